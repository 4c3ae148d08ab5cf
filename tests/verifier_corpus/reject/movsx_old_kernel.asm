; expect: BPF_MOV uses reserved fields
; prog-type: kprobe
; kernel: 6.1
; insn: 1
mov %r1, 7
movsx864 %r0, %r1
exit
