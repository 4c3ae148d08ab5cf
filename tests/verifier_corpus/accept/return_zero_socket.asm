; expect: accept
; prog-type: socket_filter
mov %r0, 0
exit
