; expect: accept
; prog-type: kprobe
call 7
jgt32 %r0, 100, +3
mov %r1, %r0
mul %r1, 2
ja +1
mov %r1, 0
mov %r0, 0
exit
