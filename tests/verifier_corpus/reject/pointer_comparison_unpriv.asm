; expect: R10 pointer comparison prohibited
; prog-type: socket_filter
; privileged: false
; insn: 1
mov %r0, 0
jgt %r10, %r1, +0
exit
