; portable targets require a number in r0
; expect: R0 leaks addr as return value
; prog-type: kprobe
; privileged: false
; insn: 1
mov %r0, %r10
exit
