; expect: accept
; prog-type: tracepoint
mov %r0, 0
exit
