; expect: accept
; prog-type: kprobe
mov %r0, 0
exit
