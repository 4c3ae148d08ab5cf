; expect: invalid bpf_context access off=96 size=8
; prog-type: raw_tracepoint
; insn: 0
ldxdw %r0, [%r1+96]
exit
