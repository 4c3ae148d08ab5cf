; expect: invalid func unknown#9999
; prog-type: kprobe
; insn: 0
call 9999
exit
