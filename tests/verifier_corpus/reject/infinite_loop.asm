; expect: infinite loop detected at insn 1
; prog-type: kprobe
; insn: 1
mov %r0, 0
jeq %r0, 0, -1
exit
