; expect: R2 pointer += pointer prohibited
; prog-type: kprobe
; insn: 1
mov %r2, %r10
add %r2, %r1
mov %r0, 0
exit
