; expect: misaligned stack access off (0x0; 0x0)+0+-4 size 8
; prog-type: kprobe
; kernel: 6.1
; insn: 0
stdw [%r10-4], 0
mov %r0, 0
exit
