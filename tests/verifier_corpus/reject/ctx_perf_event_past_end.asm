; expect: invalid bpf_context access off=184 size=8
; prog-type: perf_event
; insn: 0
ldxdw %r0, [%r1+184]
exit
