; expect: accept
; prog-type: kprobe
mov %r0, 0
jgt %r10, %r1, +0
exit
