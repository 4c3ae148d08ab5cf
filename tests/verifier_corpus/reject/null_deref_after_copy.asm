; a copy of the unchecked pointer is just as unchecked
; expect: R1 invalid mem access 'map_value_or_null'
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 7
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
mov %r1, %r0
ldxdw %r0, [%r1+8]
exit
