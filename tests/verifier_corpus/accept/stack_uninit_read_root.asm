; root on 6.3+ may read unwritten stack
; expect: accept
; prog-type: kprobe
ldxdw %r0, [%r10-8]
exit
