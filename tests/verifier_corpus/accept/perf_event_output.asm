; expect: accept
; prog-type: kprobe
; map: events perf_event_array 4 4 0
stdw [%r10-16], 1
stdw [%r10-8], 2
ldmap %r2, events
lddw %r3, 0xffffffff
mov %r4, %r10
add %r4, -16
mov %r5, 16
call 25
mov %r0, 0
exit
