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
mov %r1, 1
lock fetch add [%r0+8], %r1
mov %r0, %r1
exit
