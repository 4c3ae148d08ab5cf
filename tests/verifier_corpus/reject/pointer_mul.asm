; expect: R2 pointer arithmetic with *= operator prohibited
; prog-type: kprobe
; insn: 1
mov %r2, %r10
mul %r2, 2
mov %r0, 0
exit
