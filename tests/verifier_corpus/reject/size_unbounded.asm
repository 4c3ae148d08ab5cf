; expect: R2 unbounded memory access, use 'var &= const' or 'if (var < const)'
; prog-type: kprobe
; insn: 6
call 5
mov %r2, %r0
rsh %r2, 1
or %r2, 1
mov %r1, %r10
add %r1, -16
call 16
exit
