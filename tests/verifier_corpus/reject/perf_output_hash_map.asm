; expect: cannot pass map_type 1 into func bpf_perf_event_output#25
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 8
stdw [%r10-8], 0
ldmap %r2, m
lddw %r3, 0xffffffff
mov %r4, %r10
add %r4, -8
mov %r5, 8
call 25
mov %r0, 0
exit
