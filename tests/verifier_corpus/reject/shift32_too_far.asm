; expect: invalid shift 32
; prog-type: kprobe
; insn: 1
mov %r0, 1
rsh32 %r0, 32
exit
