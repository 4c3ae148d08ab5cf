; 32-bit jumps came in 5.1
; expect: unknown opcode 16
; prog-type: kprobe
; kernel: 4.19
; insn: 1
mov %r0, 0
jeq32 %r0, 0, +0
exit
