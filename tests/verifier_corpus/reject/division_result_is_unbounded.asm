; the kernel keeps no bounds through division: x/2 with x < 16 is just a number
; expect: math between fp pointer and register with unbounded min value is not allowed
; prog-type: kprobe
; insn: 6
call 7
mov %r1, %r0
and %r1, 15
div %r1, 2
mov %r2, %r10
add %r2, -32
add %r2, %r1
mov %r0, 0
exit
