; bpf_ringbuf_submit returns void: r0 is unset at the final exit
; expect: R0 !read_ok
; prog-type: kprobe
; map: rb ringbuf 0 0 4096
; insn: 10
ldmap %r1, rb
mov %r2, 8
mov %r3, 0
call 131
jne %r0, 0, +1
exit
mov %r1, %r0
mov %r2, 0
call 132
exit
