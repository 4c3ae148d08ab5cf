; expect: R1 type=map_value expected=map_ptr
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
mov %r2, %r10
add %r2, -4
call 1
mov %r0, 0
exit
