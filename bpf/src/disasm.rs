//! Disassembler in the syntax of `llvm-objdump -d` / bpftool (`r1 = r10`,
//! `*(u64 *)(r10 - 8) = r1`, `call 1`).
