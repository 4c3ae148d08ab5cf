; r6-r9 survive calls
; expect: accept
; prog-type: kprobe
call 14
mov %r6, %r0
call 15
add %r6, %r0
call 5
add %r6, %r0
call 8
call 7
mov %r0, %r6
exit
