; kernels since 5.3 verify bounded loops
; expect: accept
; prog-type: kprobe
mov %r0, 0
mov %r1, 0
L: add %r0, %r1
add %r1, 1
jlt %r1, 100, L
exit
