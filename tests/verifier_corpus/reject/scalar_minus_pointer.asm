; expect: R2 tried to subtract pointer from scalar
; prog-type: kprobe
; insn: 1
mov %r2, 8
sub %r2, %r10
mov %r0, 0
exit
