; a loop the verifier must walk 2,000,000 times
; expect: BPF program is too large. Processed 1000001 insn
; prog-type: kprobe
mov %r1, 0
L: add %r1, 1
jlt %r1, 2000000, L
mov %r0, 0
exit
