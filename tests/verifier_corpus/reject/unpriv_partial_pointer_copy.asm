; expect: R10 partial copy of pointer
; prog-type: socket_filter
; privileged: false
; insn: 0
mov32 %r0, %r10
exit
