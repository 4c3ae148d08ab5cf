; expect: BPF_EXIT uses reserved fields
; prog-type: kprobe
; insn: 1
mov %r0, 0
.insn 0x95, 1, 0, 0, 0
