; expect: invalid access to memory, mem_size=8 off=8 size=8
; prog-type: kprobe
; map: rb ringbuf 0 0 4096
; insn: 8
ldmap %r1, rb
mov %r2, 8
mov %r3, 0
call 131
jne %r0, 0, +2
mov %r0, 0
exit
stdw [%r0+8], 1
mov %r1, %r0
mov %r2, 0
call 132
mov %r0, 0
exit
