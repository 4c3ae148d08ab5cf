; expect: R10 leaks addr into map
; prog-type: socket_filter
; map: m hash 4 16 64
; privileged: false
; insn: 9
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
stxdw [%r0+0], %r10
mov %r0, 0
exit
