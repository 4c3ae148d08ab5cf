; expect: R1 invalid mem access 'scalar'
; prog-type: kprobe
; insn: 1
mov %r1, 0
ldxdw %r0, [%r1+0]
exit
