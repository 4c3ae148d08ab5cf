; signed division is ISA v4 (6.6)
; expect: BPF_ALU uses reserved fields
; prog-type: kprobe
; kernel: 6.1
; insn: 1
mov %r0, 7
sdiv %r0, 3
exit
