; expect: frame pointer is read only
; prog-type: kprobe
; insn: 1
stdw [%r10-8], 0
ldxdw %r10, [%r10-8]
mov %r0, 0
exit
