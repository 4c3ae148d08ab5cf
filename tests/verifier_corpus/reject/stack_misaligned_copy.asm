; expect: misaligned stack access off 0+-3+-8 size 4
; prog-type: kprobe
; insn: 2
mov %r1, %r10
add %r1, -3
stw [%r1-8], 0
mov %r0, 0
exit
