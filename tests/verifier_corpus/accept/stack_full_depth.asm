; expect: accept
; prog-type: kprobe
stdw [%r10-512], 0
ldxdw %r0, [%r10-512]
exit
