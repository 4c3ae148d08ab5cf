; expect: R1 type=scalar expected=map_ptr
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 4
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
mov %r1, 0
call 1
mov %r0, 0
exit
