; expect: invalid bpf_context access off=0 size=4
; prog-type: perf_event
; insn: 0
ldxw %r0, [%r1+0]
exit
