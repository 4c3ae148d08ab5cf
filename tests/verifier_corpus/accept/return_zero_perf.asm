; expect: accept
; prog-type: perf_event
mov %r0, 0
exit
