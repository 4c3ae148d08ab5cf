; root may subtract pointers: the distance is a number
; expect: accept
; prog-type: kprobe
mov %r1, %r10
add %r1, -8
mov %r0, %r10
sub %r0, %r1
exit
