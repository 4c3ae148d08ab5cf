; ctx spilled and reloaded is still the ctx
; expect: accept
; prog-type: kprobe
stxdw [%r10-8], %r1
ldxdw %r6, [%r10-8]
ldxdw %r0, [%r6+0]
exit
