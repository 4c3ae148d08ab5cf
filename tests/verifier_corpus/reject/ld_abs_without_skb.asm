; expect: at the time of BPF_LD_ABS|IND R6 != pointer to skb
; prog-type: socket_filter
; insn: 1
mov %r6, 0
ldabsb 0
exit
