; root may return a pointer value
; expect: accept
; prog-type: kprobe
mov %r0, %r10
exit
