; before the 6.x base helper set grew, socket filters had no process helpers
; expect: program of this type cannot use helper bpf_get_current_comm#16
; prog-type: socket_filter
; kernel: 6.1
; insn: 3
mov %r1, %r10
add %r1, -16
mov %r2, 16
call 16
exit
