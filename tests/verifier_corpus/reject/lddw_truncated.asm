; the second half of the lddw is missing, so the last slot is not an exit
; expect: last insn is not an exit or jmp
; prog-type: kprobe
; insn: 1
mov %r0, 0
.insn 0x18, 0, 0, 0, 1
