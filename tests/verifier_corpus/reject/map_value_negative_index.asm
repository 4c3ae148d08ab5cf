; expect: R0 min value is negative, either use unsigned index or do a if (index >=0) check.
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 12
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
ldxb %r1, [%r0+0]
sub %r1, 8
add %r0, %r1
ldxb %r0, [%r0+0]
exit
