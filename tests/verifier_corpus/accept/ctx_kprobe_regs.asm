; pt_regs: di, ss, and a narrow read
; expect: accept
; prog-type: kprobe
ldxdw %r0, [%r1+112]
ldxdw %r2, [%r1+160]
ldxw %r3, [%r1+8]
mov %r0, 0
exit
