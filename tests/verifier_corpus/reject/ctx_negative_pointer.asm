; expect: negative offset ctx ptr R1 off=-8 disallowed
; prog-type: kprobe
; insn: 1
add %r1, -8
ldxdw %r0, [%r1+0]
exit
