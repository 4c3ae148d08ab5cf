; key 4 is past max_entries 4, so the lookup may fail
; expect: R0 invalid mem access 'map_value_or_null'
; prog-type: kprobe
; insn: 6
; map: m array 4 16 4
stw [%r10-4], 4
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
ldxdw %r0, [%r0+8]
exit
