; expect: Unreleased reference id=2 alloc_insn=4
; prog-type: kprobe
; map: rb ringbuf 0 0 4096
; insn: 8
ldmap %r1, rb
mov %r2, 8
mov %r3, 0
call 131
jeq %r0, 0, +1
stdw [%r0+0], 7
mov %r0, 0
exit
