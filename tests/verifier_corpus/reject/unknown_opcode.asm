; expect: unknown opcode ff
; prog-type: kprobe
; insn: 0
.insn 0xff, 0, 0, 0, 0
mov %r0, 0
exit
