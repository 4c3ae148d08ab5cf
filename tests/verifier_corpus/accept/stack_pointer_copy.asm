; expect: accept
; prog-type: kprobe
mov %r1, %r10
add %r1, -16
stdw [%r1+8], 5
ldxdw %r0, [%r10-8]
exit
