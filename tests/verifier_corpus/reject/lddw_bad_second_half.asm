; the second slot of an lddw may only carry the upper 32 bits
; expect: invalid bpf_ld_imm64 insn
; prog-type: kprobe
; insn: 0
.insn 0x18, 0, 0, 0, 1
.insn 0, 1, 0, 0, 0
mov %r0, 0
exit
