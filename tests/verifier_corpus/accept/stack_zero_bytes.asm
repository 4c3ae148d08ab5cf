; a byte stored from a register known to be 0 reads back as the constant 0, so the bad branch is dead
; expect: accept
; prog-type: kprobe
mov %r2, 0
stxb [%r10-1], %r2
ldxb %r1, [%r10-1]
jeq %r1, 0, +2
ldxdw %r0, [%r1+0]
exit
mov %r0, 0
exit
