//! stapc backend: IR → VCode (isel) → registers (regalloc) → BPF (emit) → `bpf::Object`.
#![forbid(unsafe_code)]
