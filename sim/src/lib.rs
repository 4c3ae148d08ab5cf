//! stapc simulator: a userspace eBPF machine with tagged memory, maps and helpers, and whole-script sessions.
#![forbid(unsafe_code)]
pub mod verifier;
