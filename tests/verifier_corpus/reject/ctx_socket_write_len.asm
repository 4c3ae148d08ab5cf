; expect: invalid bpf_context access off=0 size=4
; prog-type: socket_filter
; insn: 1
mov %r2, 0
stxw [%r1+0], %r2
mov %r0, 0
exit
