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
pub const JIFFIES64: i32 = 118;
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

// ---- arrays ----
/// `(map) -> 0`: delete every element of the hash map (`delete arr`).
pub const STAPC_ARRAY_CLEAR: i32 = STAPC_BASE + 0x10;
/// `(map, spec: u32, limit: i64) -> handle`: start a `foreach`: snapshot the
/// map's keys, sorted per `spec` (see [`iter_spec`]), the first `limit` of
/// them (a negative limit: all). The handle is valid until `ITER_END` or the
/// end of the program run.
pub const STAPC_ARRAY_ITER_START: i32 = STAPC_BASE + 0x11;
/// `(handle, key: *u8, size: u32) -> 1/0`: write the next key (`size` =
/// the map's key_size bytes) of the snapshot that is still in the map to
/// `key` and return 1; 0 when done.
pub const STAPC_ARRAY_ITER_NEXT: i32 = STAPC_BASE + 0x12;
/// `(handle) -> 0`: release a `foreach` snapshot.
pub const STAPC_ARRAY_ITER_END: i32 = STAPC_BASE + 0x13;

/// The `spec` argument of `STAPC_ARRAY_ITER_START`: the key layout and the
/// sort. Bits 0..9: which key columns are strings (bit i = column i);
/// bits 9..13: number of key columns (1..=9); bit 13: the value is a
/// string; bit 14: sorted; bit 15: descending; bits 16..20: one more than
/// the sort column (0 = sort by value); bit 20: the array is an array of
/// statistics (its value is a statistic, which sorts by its count over
/// every CPU; see [`ITER_SPEC_STAT`]). Long columns and values compare as
/// i64, strings byte-wise; ties are broken by the whole key, column by column.
/// The bit of an `iter_spec` that marks an array of statistics.
pub const ITER_SPEC_STAT: i32 = 1 << 20;

pub fn iter_spec(
    str_columns: &[bool],
    value_is_str: bool,
    sort: Option<(Option<u32>, bool)>,
) -> i32 {
    let mut spec = 0i32;
    for (i, s) in str_columns.iter().take(9).enumerate() {
        if *s {
            spec |= 1 << i;
        }
    }
    spec |= (str_columns.len().min(9) as i32) << 9;
    if value_is_str {
        spec |= 1 << 13;
    }
    if let Some((column, descending)) = sort {
        spec |= 1 << 14;
        if descending {
            spec |= 1 << 15;
        }
        if let Some(c) = column {
            spec |= ((c.min(8) as i32) + 1) << 16;
        }
    }
    spec
}

// ---- functions/strings ----
// Strings are `size`-byte buffers (MAXSTRINGLEN), NUL-terminated with zeros
// after the NUL; every string a helper writes keeps that invariant.
/// `(s: *u8, size: u32) -> len`: `strlen(s)`.
pub const STAPC_STR_LEN: i32 = STAPC_BASE + 0x30;
/// `(dst: *u8, s: *u8, start: i64, len: i64, size: u32) -> 0`: dst =
/// `substr(s, start, len)` (0-based; "" when start is outside s or len <= 0).
pub const STAPC_SUBSTR: i32 = STAPC_BASE + 0x31;
/// `(s: *u8, sub: *u8, size: u32) -> 0/1`: `isinstr(s, sub)`.
pub const STAPC_ISINSTR: i32 = STAPC_BASE + 0x32;
/// `(s: *u8, base: i64, size: u32) -> i64`: `strtol(s, base)` (base 0 or
/// 2..=36, checked by the program before the call).
pub const STAPC_STRTOL: i32 = STAPC_BASE + 0x33;
/// `(dst: *u8, s: *u8, search: *u8, replace: *u8, size: u32) -> 0`: dst =
/// `str_replace(s, search, replace)`, truncated.
pub const STAPC_STR_REPLACE: i32 = STAPC_BASE + 0x34;
/// `(dst: *u8, s: *u8, size: u32) -> 0`: dst = `text_str(s)`, truncated.
pub const STAPC_TEXT_STR: i32 = STAPC_BASE + 0x35;
/// `(dst: *u8, format: u32, args: *u8, size: u32) -> 0`: dst = the program's
/// `Object::formats[format]` applied to `args`, laid out as a PRINTF
/// record's arguments (Long = 8 bytes LE, Str = `size` bytes), truncated.
pub const STAPC_SPRINTF: i32 = STAPC_BASE + 0x36;
/// `(what: u32) -> u64`: a context value of the stapc process, `what` one of
/// the `STAPC_CTX_*` below.
pub const STAPC_CONTEXT: i32 = STAPC_BASE + 0x37;
/// `ppid()`.
pub const STAPC_CTX_PPID: i32 = 0;
/// `euid()`.
pub const STAPC_CTX_EUID: i32 = 1;
/// Wall-clock nanoseconds since the Unix epoch (`gettimeofday_*`).
pub const STAPC_CTX_REALTIME_NS: i32 = 2;
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
        // ---- arrays ----
        STAPC_ARRAY_CLEAR => "stapc_array_clear",
        STAPC_ARRAY_ITER_START => "stapc_array_iter_start",
        STAPC_ARRAY_ITER_NEXT => "stapc_array_iter_next",
        STAPC_ARRAY_ITER_END => "stapc_array_iter_end",
        JIFFIES64 => "jiffies64",
        STAPC_STR_LEN => "stapc_str_len",
        STAPC_SUBSTR => "stapc_substr",
        STAPC_ISINSTR => "stapc_isinstr",
        STAPC_STRTOL => "stapc_strtol",
        STAPC_STR_REPLACE => "stapc_str_replace",
        STAPC_TEXT_STR => "stapc_text_str",
        STAPC_SPRINTF => "stapc_sprintf",
        STAPC_CONTEXT => "stapc_context",
        STAPC_STAT_READ => "stapc_stat_read",
        STAPC_STAT_CLEAR => "stapc_stat_clear",
        _ => return None,
    })
}
