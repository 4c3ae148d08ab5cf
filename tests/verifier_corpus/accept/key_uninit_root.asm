; root on 5.8+ may pass unwritten stack to helpers
; expect: accept
; prog-type: kprobe
; map: m hash 4 16 64
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
mov %r0, 0
exit
