; expect: R1 must have zero offset when passed to release func
; prog-type: kprobe
; map: rb ringbuf 0 0 4096
; insn: 11
ldmap %r1, rb
mov %r2, 16
mov %r3, 0
call 131
jne %r0, 0, +2
mov %r0, 0
exit
mov %r1, %r0
add %r1, 8
mov %r2, 0
call 132
mov %r0, 0
exit
