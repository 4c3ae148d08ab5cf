; regs, sample_period, low half of addr
; expect: accept
; prog-type: perf_event
ldxdw %r0, [%r1+0]
ldxdw %r2, [%r1+168]
ldxw %r3, [%r1+176]
exit
