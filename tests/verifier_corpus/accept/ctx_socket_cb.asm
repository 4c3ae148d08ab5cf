; cb[] is the one writable area
; expect: accept
; prog-type: socket_filter
mov %r2, 5
stxw [%r1+48], %r2
ldxw %r0, [%r1+48]
exit
