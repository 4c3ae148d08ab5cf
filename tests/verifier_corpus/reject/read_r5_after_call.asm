; expect: R5 !read_ok
; prog-type: kprobe
; insn: 2
mov %r5, 1
call 7
add %r0, %r5
exit
