; expect: math between fp pointer and register with unbounded min value is not allowed
; prog-type: kprobe
; insn: 2
call 5
mov %r1, %r10
add %r1, %r0
mov %r0, 0
exit
