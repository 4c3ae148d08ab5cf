; expect: R3 !read_ok
; prog-type: kprobe
; insn: 0
mov %r0, %r3
exit
