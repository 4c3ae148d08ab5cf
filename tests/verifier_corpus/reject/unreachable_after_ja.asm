; expect: unreachable insn 1
; prog-type: kprobe
; insn: 1
ja +1
mov %r0, 1
mov %r0, 0
exit
