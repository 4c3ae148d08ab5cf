; unprivileged socket filters may not loop
; expect: back-edge from insn 2 to 1
; prog-type: socket_filter
; privileged: false
; insn: 2
mov %r0, 0
add %r0, 1
jlt %r0, 10, -2
exit
