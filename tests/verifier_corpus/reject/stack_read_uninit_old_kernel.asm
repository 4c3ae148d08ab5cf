; kernel 5.15 rejects this even for root
; expect: invalid read from stack off -16+0 size 4
; prog-type: kprobe
; kernel: 5.15
; insn: 0
ldxw %r0, [%r10-16]
exit
