; expect: invalid bpf_context access off=8 size=8
; prog-type: tracepoint
; insn: 1
mov %r2, 1
stxdw [%r1+8], %r2
mov %r0, 0
exit
