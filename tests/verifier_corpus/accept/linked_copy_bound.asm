; a bound checked on a copy also bounds the original (the kernel links copies of a scalar)
; expect: accept
; prog-type: kprobe
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
jgt %r8, 8, +3
add %r6, %r7
ldxdw %r0, [%r6+0]
exit
mov %r0, 0
exit
