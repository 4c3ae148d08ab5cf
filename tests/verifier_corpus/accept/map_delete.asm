; expect: accept
; prog-type: kprobe
; map: m hash 4 16 64
stw [%r10-4], 7
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 3
mov %r0, 0
exit
