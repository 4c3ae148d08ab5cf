; expect: accept
; prog-type: kprobe
; map: m hash 4 16 64
; map: rb ringbuf 0 0 4096
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
mov %r2, %r0
ldmap %r1, rb
mov %r3, 16
mov %r4, 0
call 130
mov %r0, 0
exit
