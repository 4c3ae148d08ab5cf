; stapc's own string helpers in a begin probe
; expect: accept
; prog-type: syscall
; userspace: true
stdw [%r10-16], 0
stdw [%r10-8], 0
stdw [%r10-32], 0
stdw [%r10-24], 0
mov %r1, %r10
add %r1, -48
mov %r2, %r10
add %r2, -16
mov %r3, %r10
add %r3, -32
mov %r4, 16
call 4097
mov %r1, %r10
add %r1, -16
mov %r2, %r10
add %r2, -48
mov %r3, 16
call 4098
exit
