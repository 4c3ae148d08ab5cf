; expect: jump out of range from insn 1 to -1
; prog-type: kprobe
; insn: 1
mov %r0, 0
ja -3
exit
