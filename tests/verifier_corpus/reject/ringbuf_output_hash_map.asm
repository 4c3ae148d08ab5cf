; expect: cannot pass map_type 1 into func bpf_ringbuf_output#130
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 7
ldmap %r1, m
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
mov %r3, 8
mov %r4, 0
call 130
exit
