; expect: accept
; prog-type: kprobe
mov %r1, 3
stxdw [%r10-8], %r1
ldxdw %r0, [%r10-8]
exit
