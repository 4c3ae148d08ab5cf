; the faulting instruction is on a branch the verifier knows is never taken
; expect: accept
; prog-type: kprobe
mov %r1, 5
jeq %r1, 5, +1
ldxdw %r0, [%r1+0]
mov %r0, 0
exit
