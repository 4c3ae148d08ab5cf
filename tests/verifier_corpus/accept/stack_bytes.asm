; expect: accept
; prog-type: kprobe
stb [%r10-1], 1
sth [%r10-4], 2
stw [%r10-8], 3
ldxb %r0, [%r10-1]
ldxh %r1, [%r10-4]
ldxw %r2, [%r10-8]
add %r0, %r1
add %r0, %r2
exit
