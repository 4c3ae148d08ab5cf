; expect: accept
; prog-type: kprobe
mov %r1, %r10
add %r1, -16
mov %r2, 16
call 16
ldxb %r0, [%r10-16]
exit
