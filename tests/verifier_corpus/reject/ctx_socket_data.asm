; expect: invalid bpf_context access off=76 size=4
; prog-type: socket_filter
; insn: 0
ldxw %r0, [%r1+76]
exit
