; expect: invalid bpf_context access off=0 size=8
; prog-type: socket_filter
; insn: 0
ldxdw %r0, [%r1+0]
exit
