; expect: jump out of range from insn 1 to 7
; prog-type: kprobe
; insn: 1
mov %r0, 0
jeq %r0, 0, +5
exit
