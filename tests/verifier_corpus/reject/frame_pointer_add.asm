; expect: frame pointer is read only
; prog-type: kprobe
; insn: 0
add %r10, -8
mov %r0, 0
exit
