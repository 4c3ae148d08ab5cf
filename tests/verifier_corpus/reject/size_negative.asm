; expect: R2 min value is negative, either use unsigned or 'var &= const'
; prog-type: kprobe
; insn: 4
call 5
mov %r2, %r0
mov %r1, %r10
add %r1, -16
call 16
exit
