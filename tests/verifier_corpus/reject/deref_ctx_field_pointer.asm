; a kernel address read from pt_regs is only a number: use bpf_probe_read_kernel
; expect: R2 invalid mem access 'scalar'
; prog-type: kprobe
; insn: 1
ldxdw %r2, [%r1+112]
ldxdw %r0, [%r2+0]
exit
