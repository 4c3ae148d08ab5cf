; expect: invalid write to stack R1 off=-516 size=4
; prog-type: kprobe
; insn: 2
mov %r1, %r10
add %r1, -512
stw [%r1-4], 0
mov %r0, 0
exit
