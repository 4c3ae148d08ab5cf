; expect: accept
; prog-type: kprobe
mov32 %r0, -1
add32 %r0, 1
mov32 %r1, 7
mul32 %r1, 3
div32 %r1, 2
mod32 %r1, 5
or32 %r1, 8
and32 %r1, 12
xor32 %r1, 1
lsh32 %r1, 2
rsh32 %r1, 1
arsh32 %r1, 1
neg32 %r1
add %r0, %r1
exit
