; 6.14+: a lookup in an array with a constant in-range key cannot fail
; expect: accept
; prog-type: kprobe
; map: m array 4 16 4
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
ldxdw %r0, [%r0+8]
exit
