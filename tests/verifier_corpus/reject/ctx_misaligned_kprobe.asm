; expect: invalid bpf_context access off=2 size=4
; prog-type: kprobe
; insn: 0
ldxw %r0, [%r1+2]
exit
