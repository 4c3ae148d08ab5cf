; expect: R1 pointer arithmetic on map_ptr prohibited
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 2
ldmap %r1, m
add %r1, 8
mov %r0, 0
exit
