; expect: R1 type=ringbuf_mem_or_null expected=ringbuf_mem
; prog-type: kprobe
; map: rb ringbuf 0 0 4096
; insn: 7
ldmap %r1, rb
mov %r2, 8
mov %r3, 0
call 131
mov %r1, %r0
mov %r2, 0
call 132
mov %r0, 0
exit
