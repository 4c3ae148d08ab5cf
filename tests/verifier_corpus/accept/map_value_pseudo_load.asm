; lddw of a map value address (global data)
; expect: accept
; prog-type: kprobe
; map: a array 4 16 1
ldmapval %r1, a, 8
ldxdw %r0, [%r1+0]
exit
