; expect: accept
; prog-type: kprobe
; map: m hash 4 16 64
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
mov %r6, %r0
stw [%r10-8], 1
mov %r2, %r10
add %r2, -8
ldmap %r1, m
call 1
jeq %r0, 0, +3
ldxdw %r1, [%r6+0]
stxdw [%r0+0], %r1
mov %r0, 0
exit
