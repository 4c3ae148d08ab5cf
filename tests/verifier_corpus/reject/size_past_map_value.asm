; expect: invalid access to map value, value_size=16 off=0 size=32
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 12
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
mov %r1, %r0
mov %r2, 32
mov %r3, 0
call 113
mov %r0, 0
exit
