; r0 is never set
; expect: R0 !read_ok
; prog-type: kprobe
; insn: 0
exit
