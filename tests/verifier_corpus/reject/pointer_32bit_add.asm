; expect: R2 32-bit pointer arithmetic prohibited
; prog-type: kprobe
; insn: 1
mov %r2, %r10
add32 %r2, -8
mov %r0, 0
exit
