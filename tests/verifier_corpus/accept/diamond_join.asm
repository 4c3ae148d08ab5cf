; expect: accept
; prog-type: kprobe
call 7
mov %r6, 0
jgt %r0, 10, +2
mov %r6, 1
ja +1
mov %r6, 2
mov %r0, %r6
exit
