; expect: invalid access to map value, value_size=16 off=-8 size=8
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 9
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
ldxdw %r0, [%r0-8]
exit
