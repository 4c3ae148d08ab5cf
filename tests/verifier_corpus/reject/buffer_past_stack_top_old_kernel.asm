; expect: invalid indirect access to stack R1 off=-16 size=32
; prog-type: kprobe
; kernel: 6.1
; insn: 3
mov %r1, %r10
add %r1, -16
mov %r2, 32
call 16
exit
