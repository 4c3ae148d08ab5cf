; expect: invalid bpf_ld_imm64 insn
; prog-type: kprobe
; insn: 1
mov %r0, 0
.insn 0x18, 0, 0, 0, 1
