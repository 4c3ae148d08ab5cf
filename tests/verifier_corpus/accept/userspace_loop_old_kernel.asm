; stapc's begin/end/error programs run on the simulator: loops are fine even for a 4.14 target
; expect: accept
; prog-type: syscall
; userspace: true
; kernel: 4.14
mov %r0, 0
mov %r1, 0
L: add %r0, %r1
add %r1, 1
jlt %r1, 10, L
exit
