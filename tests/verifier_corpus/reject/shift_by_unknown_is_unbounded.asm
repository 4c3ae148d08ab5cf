; a shift by a non-constant amount leaves the result unknown in all 64 bits, as in the kernel
; expect: math between fp pointer and register with unbounded min value is not allowed
; prog-type: kprobe
; insn: 6
call 7
and %r0, 3
mov %r1, 1
lsh %r1, %r0
mov %r2, %r10
add %r2, -64
add %r2, %r1
mov %r0, 0
exit
