; a spilled copy is refined too
; expect: accept
; prog-type: kprobe
; map: m hash 4 16 64
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
stxdw [%r10-16], %r0
jeq %r0, 0, +3
ldxdw %r1, [%r10-16]
ldxdw %r0, [%r1+0]
exit
mov %r0, 0
exit
