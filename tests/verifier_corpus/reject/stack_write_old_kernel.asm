; expect: invalid stack off=8 size=8
; prog-type: kprobe
; kernel: 5.4
; insn: 0
stdw [%r10+8], 0
mov %r0, 0
exit
