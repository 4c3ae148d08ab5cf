; map_update_elem needs r3 (the value) and r4 (flags)
; expect: R3 !read_ok
; prog-type: kprobe
; map: m hash 4 16 64
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
jne %r0, 0, +2
mov %r0, 0
exit
mov %r4, %r0
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 2
exit
