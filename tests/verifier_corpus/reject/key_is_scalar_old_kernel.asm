; expect: R2 type=inv expected=fp
; prog-type: kprobe
; map: m hash 4 16 64
; kernel: 5.10
; insn: 3
mov %r2, 0
ldmap %r1, m
call 1
mov %r0, 0
exit
