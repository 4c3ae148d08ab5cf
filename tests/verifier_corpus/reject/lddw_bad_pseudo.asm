; expect: unrecognized bpf_ld_imm64 insn
; prog-type: kprobe
; insn: 0
.insn 0x18, 1, 7, 0, 0
.insn 0, 0, 0, 0, 0
mov %r0, 0
exit
