; expect: accept
; prog-type: kprobe
; map: m percpu_array 4 16 1
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
ldxb %r0, [%r0+15]
exit
