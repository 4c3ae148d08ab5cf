; storing through an unchecked lookup result
; expect: R0 invalid mem access 'map_value_or_null'
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 6
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
stdw [%r0+0], 1
mov %r0, 0
exit
