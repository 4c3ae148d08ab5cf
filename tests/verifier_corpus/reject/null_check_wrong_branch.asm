; dereferencing on the NULL side of the check
; expect: R0 invalid mem access 'scalar'
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 7
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
ldxdw %r0, [%r0+0]
exit
mov %r0, 0
exit
