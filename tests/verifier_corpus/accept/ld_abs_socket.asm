; expect: accept
; prog-type: socket_filter
mov %r6, %r1
ldabsb 12
ldabsh 14
mov %r2, 0
ldindw %r2, 0
mov %r0, 0
exit
