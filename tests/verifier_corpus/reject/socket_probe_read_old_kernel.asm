; expect: unknown func bpf_probe_read#4
; prog-type: socket_filter
; kernel: 5.15
; insn: 4
mov %r1, %r10
add %r1, -8
mov %r2, 8
mov %r3, 0
call 4
exit
