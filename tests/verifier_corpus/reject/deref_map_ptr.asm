; kernels since 5.10 let programs read struct bpf_map fields through BTF; the mini-verifier does not model that and keeps rejecting
; expect: R1 invalid mem access 'map_ptr'
; prog-type: kprobe
; kernel: 5.4
; map: m hash 4 16 64
; insn: 2
ldmap %r1, m
ldxdw %r0, [%r1+0]
exit
