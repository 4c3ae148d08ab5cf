//! BPF helper function ids and names (from the kernel's `enum bpf_func_id`),
//! shared by the backend (calls), the simulator (implementations), the
//! mini-verifier (prototypes) and the disassembler (names).

pub const MAP_LOOKUP_ELEM: i32 = 1;
pub const MAP_UPDATE_ELEM: i32 = 2;
pub const MAP_DELETE_ELEM: i32 = 3;
pub const PROBE_READ: i32 = 4;
pub const KTIME_GET_NS: i32 = 5;
pub const TRACE_PRINTK: i32 = 6;
pub const GET_PRANDOM_U32: i32 = 7;
pub const GET_SMP_PROCESSOR_ID: i32 = 8;
pub const GET_CURRENT_PID_TGID: i32 = 14;
pub const GET_CURRENT_UID_GID: i32 = 15;
pub const GET_CURRENT_COMM: i32 = 16;
pub const PERF_EVENT_OUTPUT: i32 = 25;
pub const PROBE_READ_STR: i32 = 45;
pub const PROBE_READ_USER: i32 = 112;
pub const PROBE_READ_KERNEL: i32 = 113;
pub const PROBE_READ_USER_STR: i32 = 114;
pub const PROBE_READ_KERNEL_STR: i32 = 115;
pub const RINGBUF_OUTPUT: i32 = 130;
pub const RINGBUF_RESERVE: i32 = 131;
pub const RINGBUF_SUBMIT: i32 = 132;
pub const RINGBUF_DISCARD: i32 = 133;
pub const FOR_EACH_MAP_ELEM: i32 = 164;
pub const LOOP: i32 = 181;

/// stapc's own helpers, only for userspace programs (begin/end/error), which
/// run on the simulator: string work that would cost hundreds of instructions
/// as BPF. The ids sit far above the kernel's so they can never collide; the
/// mini-verifier rejects them in kernel programs.
pub const STAPC_BASE: i32 = 0x1000;
/// `(dst: *u8, a: *u8, b: *u8, size: u32) -> 0`: dst = a . b (NUL-terminated, truncated).
pub const STAPC_STR_CONCAT: i32 = STAPC_BASE + 1;
/// `(a: *u8, b: *u8, size: u32) -> -1/0/1`.
pub const STAPC_STR_COMPARE: i32 = STAPC_BASE + 2;

// ---- statistics ----
/// `(map, key: *u8, op: u64) -> i64`: aggregate `op` (0 count, 1 sum, 2 min,
/// 3 max, 4 avg truncated toward zero) of the statistic `map[key]` (a per-CPU
/// map laid out as `object::StatDesc` says), merged over every CPU; 0 when the
/// key is absent or the statistic is empty (callers test the count first).
pub const STAPC_STAT_READ: i32 = STAPC_BASE + 0x20;
/// `(map, key: *u8) -> 0`: reset the statistic `map[key]` to empty on every
/// CPU (`delete s`); nothing happens when the key is absent.
pub const STAPC_STAT_CLEAR: i32 = STAPC_BASE + 0x21;

/// `flags` of `bpf_perf_event_output`: the current CPU's ring.
pub const BPF_F_CURRENT_CPU: i64 = 0xffff_ffff;

/// The kernel's name of a helper (without the `bpf_` prefix), if known.
pub fn name(id: i32) -> Option<&'static str> {
    Some(match id {
        MAP_LOOKUP_ELEM => "map_lookup_elem",
        MAP_UPDATE_ELEM => "map_update_elem",
        MAP_DELETE_ELEM => "map_delete_elem",
        PROBE_READ => "probe_read",
        KTIME_GET_NS => "ktime_get_ns",
        TRACE_PRINTK => "trace_printk",
        GET_PRANDOM_U32 => "get_prandom_u32",
        GET_SMP_PROCESSOR_ID => "get_smp_processor_id",
        GET_CURRENT_PID_TGID => "get_current_pid_tgid",
        GET_CURRENT_UID_GID => "get_current_uid_gid",
        GET_CURRENT_COMM => "get_current_comm",
        PERF_EVENT_OUTPUT => "perf_event_output",
        PROBE_READ_STR => "probe_read_str",
        PROBE_READ_USER => "probe_read_user",
        PROBE_READ_KERNEL => "probe_read_kernel",
        PROBE_READ_USER_STR => "probe_read_user_str",
        PROBE_READ_KERNEL_STR => "probe_read_kernel_str",
        RINGBUF_OUTPUT => "ringbuf_output",
        RINGBUF_RESERVE => "ringbuf_reserve",
        RINGBUF_SUBMIT => "ringbuf_submit",
        RINGBUF_DISCARD => "ringbuf_discard",
        FOR_EACH_MAP_ELEM => "for_each_map_elem",
        LOOP => "loop",
        STAPC_STR_CONCAT => "stapc_str_concat",
        STAPC_STR_COMPARE => "stapc_str_compare",
        STAPC_STAT_READ => "stapc_stat_read",
        STAPC_STAT_CLEAR => "stapc_stat_clear",
        _ => return None,
    })
}
