; expect: R2 invalid zero-sized read: u64=[0,0]
; prog-type: kprobe
; insn: 3
mov %r1, %r10
add %r1, -16
mov %r2, 0
call 16
exit
