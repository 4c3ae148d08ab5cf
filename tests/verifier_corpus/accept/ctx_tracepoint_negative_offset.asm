; the kernel's tracepoint check compares the offset with sizeof(void *) as unsigned, so
; negative offsets pass; the mini-verifier predicts the kernel, stapc never emits this
; expect: accept
; prog-type: tracepoint
ldxw %r0, [%r1-8]
exit
