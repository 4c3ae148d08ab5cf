; expect: R0 pointer arithmetic on map_value_or_null prohibited, null-check it first
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 6
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
add %r0, 8
mov %r0, 0
exit
