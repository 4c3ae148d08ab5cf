; a masked size fits the 32-byte buffer; zero is allowed
; expect: accept
; prog-type: kprobe
call 7
and %r0, 31
mov %r2, %r0
mov %r1, %r10
add %r1, -32
mov %r3, 0
call 113
mov %r0, 0
exit
