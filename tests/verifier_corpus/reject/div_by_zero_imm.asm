; expect: div by zero
; prog-type: kprobe
; insn: 1
mov %r0, 1
div %r0, 0
exit
