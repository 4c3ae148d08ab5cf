; expect: math between fp pointer and large imm 536870912 is not allowed
; prog-type: kprobe
; kernel: 6.1
; insn: 1
mov %r1, %r10
add %r1, 0x20000000
mov %r0, 0
exit
