; expect: accept
; prog-type: socket_filter
; privileged: false
ldxw %r0, [%r1+0]
exit
