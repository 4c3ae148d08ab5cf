; expect: invalid func unknown#181
; prog-type: kprobe
; kernel: 5.15
; insn: 4
mov %r1, 1
mov %r2, 0
mov %r3, 0
mov %r4, 0
call 181
exit
