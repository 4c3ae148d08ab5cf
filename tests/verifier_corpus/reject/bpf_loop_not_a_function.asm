; bpf_loop's second argument must be a callback (lddw rX, func)
; expect: R2 type=scalar expected=func
; prog-type: kprobe
; insn: 4
mov %r1, 1
mov %r2, 0
mov %r3, 0
mov %r4, 0
call 181
exit
