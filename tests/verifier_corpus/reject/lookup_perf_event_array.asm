; expect: cannot pass map_type 4 into func bpf_map_lookup_elem#1
; prog-type: kprobe
; map: m perf_event_array 4 4 0
; insn: 5
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, m
call 1
mov %r0, 0
exit
