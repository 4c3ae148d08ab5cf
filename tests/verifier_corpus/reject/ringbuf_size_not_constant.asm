; expect: R2 is not a known constant'
; prog-type: kprobe
; map: rb ringbuf 0 0 4096
; insn: 6
call 7
and %r0, 63
mov %r2, %r0
ldmap %r1, rb
mov %r3, 0
call 131
mov %r0, 0
exit
