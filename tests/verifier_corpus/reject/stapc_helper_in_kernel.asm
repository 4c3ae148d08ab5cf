; stapc's string helpers exist only on the simulator
; expect: invalid func unknown#4097
; prog-type: kprobe
; insn: 0
call 4097
exit
