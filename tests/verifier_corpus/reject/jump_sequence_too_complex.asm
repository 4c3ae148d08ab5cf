; each iteration leaves one branch waiting; they pile up past 8192
; expect: The sequence of 8193 jumps is too complex.
; prog-type: kprobe
mov %r6, 0
L: call 7
jeq %r0, 0, +0
add %r6, 1
jlt %r6, 10000, L
mov %r0, 0
exit
