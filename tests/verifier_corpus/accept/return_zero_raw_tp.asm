; expect: accept
; prog-type: raw_tracepoint
mov %r0, 0
exit
