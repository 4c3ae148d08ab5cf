; len, protocol, pkt_type
; expect: accept
; prog-type: socket_filter
ldxw %r0, [%r1+0]
ldxh %r2, [%r1+16]
ldxb %r3, [%r1+4]
exit
