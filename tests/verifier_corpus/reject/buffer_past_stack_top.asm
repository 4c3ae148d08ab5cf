; expect: invalid write to stack R1 off=-16 size=32
; prog-type: kprobe
; insn: 3
mov %r1, %r10
add %r1, -16
mov %r2, 32
call 16
exit
