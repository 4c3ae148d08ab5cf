; checking r0 also makes its copy r6 non-NULL
; expect: accept
; prog-type: kprobe
; map: m hash 4 16 64
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
mov %r6, %r0
jeq %r0, 0, +2
ldxdw %r0, [%r6+0]
exit
mov %r0, 0
exit
