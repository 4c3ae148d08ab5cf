; once the copy is scaled it is a different value: its bound says nothing about the original
; expect: math between map_value pointer and register with unbounded min value is not allowed
; prog-type: kprobe
; insn: 15
; map: m hash 4 16 8
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
mov %r6, %r0
call 7
mov %r7, %r0
mov %r8, %r7
mul %r8, 2
jgt %r8, 8, +3
add %r6, %r7
ldxdw %r0, [%r6+0]
exit
mov %r0, 0
exit
