//! Context access rules per program type (each program type's
//! `is_valid_access` in the kernel): which offsets and sizes of the context
//! a program may read or write, and what a read yields.

use super::reg::Reg;
use bpf::ProgramType;

/// `sizeof(struct pt_regs)` on x86-64.
pub const PT_REGS_SIZE: i64 = 168;
/// `sizeof(struct bpf_perf_event_data)`: regs, sample_period, addr.
pub const PERF_EVENT_DATA_SIZE: i64 = 184;
/// `PERF_MAX_TRACE_SIZE`: what a tracepoint program may address.
pub const TRACEPOINT_MAX: i64 = 2048;
/// `sizeof(__u64) * MAX_BPF_FUNC_ARGS` for raw tracepoints.
pub const RAW_TP_SIZE: i64 = 96;
/// `sizeof(struct __sk_buff)`.
pub const SK_BUFF_SIZE: i64 = 192;

/// Whether the access `[off, off+size)` is allowed; on success, the value a
/// read produces (zero-extended to 64 bits).
pub fn access(
    prog_type: ProgramType,
    userspace: bool,
    off: i64,
    size: i64,
    write: bool,
) -> Option<Reg> {
    let value = if size >= 8 {
        Reg::unknown()
    } else {
        Reg::unknown_upto((1u64 << (size * 8)) - 1)
    };
    if off % size != 0 {
        return None;
    }
    // The tracepoint check compares a signed offset with `sizeof(void *)`,
    // an unsigned value, so negative offsets pass it; we predict the kernel.
    if off < 0 && prog_type != ProgramType::Tracepoint {
        return None;
    }
    let ok = match prog_type {
        ProgramType::Kprobe => !write && off + size <= PT_REGS_SIZE,
        ProgramType::Tracepoint => !write && (off < 0 || (8..TRACEPOINT_MAX).contains(&off)),
        ProgramType::RawTracepoint => !write && off < RAW_TP_SIZE,
        ProgramType::PerfEvent => {
            if write || off >= PERF_EVENT_DATA_SIZE {
                false
            } else if off >= PT_REGS_SIZE {
                // sample_period and addr: u64 fields, narrow reads allowed.
                off + size <= PERF_EVENT_DATA_SIZE
            } else {
                size == 8
            }
        }
        ProgramType::Syscall => {
            if userspace {
                // stapc's userspace programs run with an empty context.
                false
            } else {
                off < u16::MAX as i64
            }
        }
        ProgramType::SocketFilter => sk_filter_access(off, size, write),
    };
    ok.then_some(value)
}

/// `sk_filter_is_valid_access` + `bpf_skb_is_valid_access` on `__sk_buff`.
fn sk_filter_access(off: i64, size: i64, write: bool) -> bool {
    if off >= SK_BUFF_SIZE {
        return false;
    }
    // tc_classid, data, data_end, family..local_port, data_meta, flow_keys,
    // tstamp, wire_len, sk, tstamp_type and padding, hwtstamp.
    let denied: [(i64, i64); 7] = [
        (72, 84),
        (88, 152),
        (152, 164),
        (168, 176),
        (180, 184),
        (184, 192),
        (140, 152),
    ];
    if denied.iter().any(|&(lo, hi)| off >= lo && off < hi) {
        return false;
    }
    let in_cb = (48..68).contains(&off);
    if in_cb {
        return off + size <= 68;
    }
    if write {
        return false;
    }
    // Every remaining field is a u32: narrow reads within it.
    size <= 4 && off + size <= (off / 4) * 4 + 4
}
