; expect: accept
; prog-type: kprobe
; map: m hash 4 16 64
stw [%r10-4], 0
stdw [%r10-24], 1
stdw [%r10-16], 2
mov %r2, %r10
add %r2, -4
mov %r3, %r10
add %r3, -24
mov %r4, 0
ldmap %r1, m
call 2
mov %r0, 0
exit
