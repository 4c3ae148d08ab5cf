; expect: R1 invalid mem access 'map_ptr'
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 2
ldmap %r1, m
ldxdw %r0, [%r1+0]
exit
