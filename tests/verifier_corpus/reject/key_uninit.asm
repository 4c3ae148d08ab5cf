; the key was never written (portable rule; root on 5.8+ may pass uninitialised stack to helpers)
; expect: invalid indirect read from stack R2 off -4+0 size 4
; prog-type: kprobe
; map: m hash 4 16 64
; privileged: false
; insn: 4
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
mov %r0, 0
exit
