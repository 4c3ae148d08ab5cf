; expect: invalid bpf_context access off=0 size=8
; prog-type: kprobe
; insn: 1
mov %r2, 0
stxdw [%r1+0], %r2
mov %r0, 0
exit
