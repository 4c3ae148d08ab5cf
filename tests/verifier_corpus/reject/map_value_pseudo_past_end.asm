; expect: invalid access to map value pointer, value_size=16 off=16
; prog-type: kprobe
; map: a array 4 16 1
; insn: 0
ldmapval %r1, a, 16
mov %r0, 0
exit
