; expect: invalid size of register spill
; prog-type: kprobe
; insn: 0
stxw [%r10-8], %r1
mov %r0, 0
exit
