; expect: program of this type cannot use helper bpf_probe_read_str#45
; prog-type: socket_filter
; insn: 4
mov %r1, %r10
add %r1, -16
mov %r2, 16
mov %r3, 0
call 45
exit
