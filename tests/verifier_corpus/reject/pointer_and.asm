; expect: R2 bitwise operator &= on pointer prohibited
; prog-type: kprobe
; insn: 1
mov %r2, %r10
and %r2, -8
mov %r0, 0
exit
