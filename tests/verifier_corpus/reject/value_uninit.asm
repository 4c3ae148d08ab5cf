; expect: invalid indirect read from stack R3 off -24+0 size 16
; prog-type: kprobe
; map: m hash 4 16 64
; privileged: false
; insn: 8
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
mov %r3, %r10
add %r3, -24
mov %r4, 0
ldmap %r1, m
call 2
exit
