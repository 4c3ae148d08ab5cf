; portable targets (and kernels before 6.3) forbid reading unwritten stack
; expect: invalid read from stack off -8+0 size 8
; prog-type: kprobe
; privileged: false
; insn: 0
ldxdw %r0, [%r10-8]
exit
