; fetching atomics came in 5.12
; expect: BPF_XADD uses reserved fields
; prog-type: kprobe
; kernel: 5.10
; insn: 2
stdw [%r10-8], 0
mov %r1, 1
lock fetch add [%r10-8], %r1
mov %r0, 0
exit
