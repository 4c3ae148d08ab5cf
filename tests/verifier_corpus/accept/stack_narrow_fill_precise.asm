; a 4-byte read of a spilled 0 is still known to be 0 (6.x), so the bad branch is dead
; expect: accept
; prog-type: kprobe
stdw [%r10-8], 0
ldxw %r1, [%r10-8]
jeq %r1, 0, +2
ldxdw %r0, [%r1+0]
exit
mov %r0, 0
exit
