; expect: accept
; prog-type: raw_tracepoint
ldxdw %r0, [%r1+0]
ldxdw %r2, [%r1+88]
exit
