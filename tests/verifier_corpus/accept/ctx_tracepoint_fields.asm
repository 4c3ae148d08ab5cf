; expect: accept
; prog-type: tracepoint
ldxdw %r0, [%r1+8]
ldxw %r2, [%r1+16]
ldxb %r3, [%r1+2047]
exit
