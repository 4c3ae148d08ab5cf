; expect: program of this type cannot use helper bpf_get_current_uid_gid#15
; prog-type: socket_filter
; insn: 0
call 15
exit
