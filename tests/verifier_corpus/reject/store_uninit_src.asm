; expect: R2 !read_ok
; prog-type: kprobe
; insn: 0
stxdw [%r10-8], %r2
mov %r0, 0
exit
