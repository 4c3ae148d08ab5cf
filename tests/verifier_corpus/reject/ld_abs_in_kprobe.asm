; expect: BPF_LD_[ABS|IND] instructions not allowed for this program type
; prog-type: kprobe
; insn: 1
mov %r6, %r1
ldabsw 0
exit
