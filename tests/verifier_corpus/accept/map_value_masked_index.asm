; index masked to 0..7: 8 bytes fit in 16
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
ldxw %r1, [%r0+0]
and %r1, 7
add %r0, %r1
ldxdw %r0, [%r0+0]
exit
