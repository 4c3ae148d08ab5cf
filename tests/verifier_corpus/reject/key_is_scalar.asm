; expect: R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_
; prog-type: kprobe
; map: m hash 4 16 64
; insn: 3
mov %r2, 0
ldmap %r1, m
call 1
mov %r0, 0
exit
