; expect: BPF_ALU uses reserved fields
; prog-type: kprobe
; insn: 1
mov %r0, 0
.insn 0x07, 0, 1, 0, 1
exit
