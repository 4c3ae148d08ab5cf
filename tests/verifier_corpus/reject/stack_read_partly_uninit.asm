; expect: invalid read from stack off -8+4 size 8
; prog-type: kprobe
; privileged: false
; insn: 1
stw [%r10-8], 1
ldxdw %r0, [%r10-8]
exit
