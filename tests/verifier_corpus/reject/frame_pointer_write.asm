; expect: frame pointer is read only
; prog-type: kprobe
; insn: 0
mov %r10, 0
mov %r0, 0
exit
