; expect: misaligned stack access off 0+0+-4 size 8
; prog-type: kprobe
; insn: 0
stdw [%r10-4], 0
mov %r0, 0
exit
