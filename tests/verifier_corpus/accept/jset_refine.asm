; expect: accept
; prog-type: kprobe
call 7
jset %r0, 1, +2
mov %r0, 0
exit
mov %r0, 1
exit
