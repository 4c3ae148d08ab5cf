; the kernel refuses `sub` on a stack pointer even by a constant; compilers add a negative number
; expect: R2 subtraction from stack pointer prohibited
; prog-type: kprobe
; insn: 1
mov %r2, %r10
sub %r2, 8
mov %r0, 0
exit
