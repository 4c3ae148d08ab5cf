; expect: invalid read from stack R2 off=-2 size=4
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 4
mov %r2, %r10
add %r2, -2
ldmap %r1, m
call 1
mov %r0, 0
exit
