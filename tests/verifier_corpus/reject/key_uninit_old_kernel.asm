; expect: invalid indirect read from stack off -4+0 size 4
; prog-type: kprobe
; map: m hash 4 16 64
; kernel: 5.4
; insn: 4
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
mov %r0, 0
exit
