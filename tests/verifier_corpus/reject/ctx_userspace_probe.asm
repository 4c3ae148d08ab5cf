; stapc's begin/end/error programs have no context
; expect: invalid bpf_context access off=0 size=8
; prog-type: syscall
; userspace: true
; insn: 0
ldxdw %r0, [%r1+0]
exit
