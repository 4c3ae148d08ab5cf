; expect: invalid size of register fill
; prog-type: kprobe
; insn: 1
stxdw [%r10-8], %r1
ldxw %r0, [%r10-8]
exit
