; expect: accept
; prog-type: kprobe
; map: m array 4 16 1
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
stdw [%r0+0], 1
stw [%r0+8], 2
sth [%r0+12], 3
stb [%r0+15], 4
mov %r0, 0
exit
