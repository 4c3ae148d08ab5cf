; signed division, sign-extending moves and loads, bswap, gotol (6.6)
; expect: accept
; prog-type: kprobe
mov %r1, -7
sdiv %r1, 2
smod %r1, 3
movsx832 %r0, %r1
movsx3264 %r0, %r0
bswap64 %r0
stdw [%r10-8], -1
ldxsw %r2, [%r10-8]
ja32 +0
exit
