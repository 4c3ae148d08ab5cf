//! stapc loader: creates maps, loads programs and attaches them through raw syscalls (the only unsafe code is in `sys`).
