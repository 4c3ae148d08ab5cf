; expect: R1 type=fp expected=ctx
; prog-type: kprobe
; map: events perf_event_array 4 4 0
; insn: 9
stdw [%r10-8], 0
mov %r1, %r10
ldmap %r2, events
lddw %r3, 0xffffffff
mov %r4, %r10
add %r4, -8
mov %r5, 8
call 25
mov %r0, 0
exit
