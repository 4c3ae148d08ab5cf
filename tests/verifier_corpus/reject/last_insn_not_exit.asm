; expect: last insn is not an exit or jmp
; prog-type: kprobe
mov %r0, 0
exit
mov %r0, 1
