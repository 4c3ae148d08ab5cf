; expect: invalid shift 64
; prog-type: kprobe
; insn: 1
mov %r0, 1
lsh %r0, 64
exit
