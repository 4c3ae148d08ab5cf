; expect: R1 invalid mem access 'inv'
; prog-type: kprobe
; kernel: 5.10
; insn: 1
mov %r1, 0
ldxdw %r0, [%r1+0]
exit
