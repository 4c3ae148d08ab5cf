; expect: R4 !read_ok
; prog-type: kprobe
; insn: 1
mov %r0, 0
jeq %r4, 0, +0
exit
