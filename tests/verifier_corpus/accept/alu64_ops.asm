; expect: accept
; prog-type: kprobe
mov %r0, 10
sub %r0, 3
mul %r0, 6
div %r0, 7
mod %r0, 4
arsh %r0, 1
neg %r0
be16 %r0
le32 %r0
exit
