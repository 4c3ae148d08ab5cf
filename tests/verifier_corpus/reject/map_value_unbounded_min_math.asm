; expect: math between map_value pointer and register with unbounded min value is not allowed
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 10
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
ldxdw %r1, [%r0+0]
add %r0, %r1
ldxb %r0, [%r0+0]
exit
