; bpf_ringbuf_output came in 5.8
; expect: invalid func unknown#130
; prog-type: kprobe
; map: rb ringbuf 0 0 4096
; kernel: 5.4
; insn: 7
ldmap %r1, rb
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
mov %r3, 8
mov %r4, 0
call 130
exit
