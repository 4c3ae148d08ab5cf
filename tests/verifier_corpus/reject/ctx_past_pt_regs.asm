; expect: invalid bpf_context access off=168 size=8
; prog-type: kprobe
; insn: 0
ldxdw %r0, [%r1+168]
exit
