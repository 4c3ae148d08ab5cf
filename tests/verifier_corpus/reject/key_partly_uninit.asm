; expect: invalid indirect read from stack R2 off -8+4 size 8
; prog-type: kprobe
; map: m hash 8 16 64
; privileged: false
; insn: 5
stw [%r10-8], 0
mov %r2, %r10
add %r2, -8
ldmap %r1, m
call 1
mov %r0, 0
exit
