; no bounded loops before 5.3
; expect: back-edge from insn 3 to 1
; prog-type: kprobe
; kernel: 5.2
; insn: 3
mov %r0, 0
add %r0, 1
jgt %r0, 10, +1
ja -3
exit
