; calls clobber r1-r5
; expect: R1 !read_ok
; prog-type: kprobe
; insn: 1
call 5
mov %r0, %r1
exit
