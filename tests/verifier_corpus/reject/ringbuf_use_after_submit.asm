; after submit the record belongs to the reader
; expect: R6 invalid mem access 'scalar'
; prog-type: kprobe
; map: rb ringbuf 0 0 4096
; insn: 12
ldmap %r1, rb
mov %r2, 8
mov %r3, 0
call 131
jne %r0, 0, +2
mov %r0, 0
exit
mov %r6, %r0
mov %r1, %r0
mov %r2, 0
call 132
stdw [%r6+0], 1
mov %r0, 0
exit
