//! Helper prototypes (argument and result types, as in the kernel's
//! `struct bpf_func_proto`), the kernel version each helper appeared in, and
//! which program types may call which helper.

use bpf::helpers as h;
use bpf::{KernelVersion, ProgramType};

/// What a helper expects in one argument register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// ARG_CONST_MAP_PTR: a `lddw rX, map` value.
    ConstMapPtr,
    /// ARG_PTR_TO_MAP_KEY: key_size readable bytes.
    MapKey,
    /// ARG_PTR_TO_MAP_VALUE: value_size readable bytes.
    MapValue,
    /// ARG_PTR_TO_MEM (| MEM_RDONLY): readable memory, size in the next arg.
    Mem,
    /// ARG_PTR_TO_UNINIT_MEM: writable memory the helper fills.
    UninitMem,
    /// ARG_CONST_SIZE: a bounded scalar > 0.
    ConstSize,
    /// ARG_CONST_SIZE_OR_ZERO.
    ConstSizeOrZero,
    /// ARG_CONST_ALLOC_SIZE_OR_ZERO: a known constant.
    ConstAllocSizeOrZero,
    /// ARG_ANYTHING: any initialised value.
    Anything,
    /// ARG_PTR_TO_CTX.
    Ctx,
    /// ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE.
    RingbufMemRelease,
    /// ARG_PTR_TO_FUNC: a callback.
    Func,
    /// ARG_PTR_TO_STACK_OR_NULL.
    StackOrNull,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// RET_INTEGER.
    Integer,
    /// RET_VOID: r0 is not readable afterwards.
    Void,
    /// RET_PTR_TO_MAP_VALUE_OR_NULL.
    MapValueOrNull,
    /// RET_PTR_TO_RINGBUF_MEM_OR_NULL.
    RingbufMemOrNull,
}

#[derive(Clone, Copy, Debug)]
pub struct Proto {
    pub id: i32,
    pub name: &'static str,
    pub args: &'static [Arg],
    pub ret: Ret,
    /// First kernel with the helper.
    pub since: KernelVersion,
    /// stapc's own helper: the size argument covers every memory argument.
    pub stapc: bool,
}

const fn p(
    id: i32,
    name: &'static str,
    args: &'static [Arg],
    ret: Ret,
    since: (u32, u32),
) -> Proto {
    Proto {
        id,
        name,
        args,
        ret,
        since: KernelVersion::new(since.0, since.1),
        stapc: false,
    }
}

use Arg::*;

static PROTOS: &[Proto] = &[
    p(
        h::MAP_LOOKUP_ELEM,
        "bpf_map_lookup_elem",
        &[ConstMapPtr, MapKey],
        Ret::MapValueOrNull,
        (3, 18),
    ),
    p(
        h::MAP_UPDATE_ELEM,
        "bpf_map_update_elem",
        &[ConstMapPtr, MapKey, MapValue, Anything],
        Ret::Integer,
        (3, 18),
    ),
    p(
        h::MAP_DELETE_ELEM,
        "bpf_map_delete_elem",
        &[ConstMapPtr, MapKey],
        Ret::Integer,
        (3, 18),
    ),
    p(
        h::PROBE_READ,
        "bpf_probe_read",
        &[UninitMem, ConstSizeOrZero, Anything],
        Ret::Integer,
        (4, 1),
    ),
    p(
        h::KTIME_GET_NS,
        "bpf_ktime_get_ns",
        &[],
        Ret::Integer,
        (4, 1),
    ),
    p(
        h::TRACE_PRINTK,
        "bpf_trace_printk",
        &[Mem, ConstSize],
        Ret::Integer,
        (4, 1),
    ),
    p(
        h::GET_PRANDOM_U32,
        "bpf_get_prandom_u32",
        &[],
        Ret::Integer,
        (4, 1),
    ),
    p(
        h::GET_SMP_PROCESSOR_ID,
        "bpf_get_smp_processor_id",
        &[],
        Ret::Integer,
        (4, 1),
    ),
    p(
        h::GET_CURRENT_PID_TGID,
        "bpf_get_current_pid_tgid",
        &[],
        Ret::Integer,
        (4, 2),
    ),
    p(
        h::GET_CURRENT_UID_GID,
        "bpf_get_current_uid_gid",
        &[],
        Ret::Integer,
        (4, 2),
    ),
    p(
        h::GET_CURRENT_COMM,
        "bpf_get_current_comm",
        &[UninitMem, ConstSize],
        Ret::Integer,
        (4, 2),
    ),
    p(
        h::PERF_EVENT_OUTPUT,
        "bpf_perf_event_output",
        &[Ctx, ConstMapPtr, Anything, Mem, ConstSizeOrZero],
        Ret::Integer,
        (4, 4),
    ),
    p(
        h::PROBE_READ_STR,
        "bpf_probe_read_str",
        &[UninitMem, ConstSizeOrZero, Anything],
        Ret::Integer,
        (4, 11),
    ),
    p(
        h::PROBE_READ_USER,
        "bpf_probe_read_user",
        &[UninitMem, ConstSizeOrZero, Anything],
        Ret::Integer,
        (5, 5),
    ),
    p(
        h::PROBE_READ_KERNEL,
        "bpf_probe_read_kernel",
        &[UninitMem, ConstSizeOrZero, Anything],
        Ret::Integer,
        (5, 5),
    ),
    p(
        h::PROBE_READ_USER_STR,
        "bpf_probe_read_user_str",
        &[UninitMem, ConstSizeOrZero, Anything],
        Ret::Integer,
        (5, 5),
    ),
    p(
        h::PROBE_READ_KERNEL_STR,
        "bpf_probe_read_kernel_str",
        &[UninitMem, ConstSizeOrZero, Anything],
        Ret::Integer,
        (5, 5),
    ),
    p(
        h::RINGBUF_OUTPUT,
        "bpf_ringbuf_output",
        &[ConstMapPtr, Mem, ConstSizeOrZero, Anything],
        Ret::Integer,
        (5, 8),
    ),
    p(
        h::RINGBUF_RESERVE,
        "bpf_ringbuf_reserve",
        &[ConstMapPtr, ConstAllocSizeOrZero, Anything],
        Ret::RingbufMemOrNull,
        (5, 8),
    ),
    p(
        h::RINGBUF_SUBMIT,
        "bpf_ringbuf_submit",
        &[RingbufMemRelease, Anything],
        Ret::Void,
        (5, 8),
    ),
    p(
        h::RINGBUF_DISCARD,
        "bpf_ringbuf_discard",
        &[RingbufMemRelease, Anything],
        Ret::Void,
        (5, 8),
    ),
    p(
        h::FOR_EACH_MAP_ELEM,
        "bpf_for_each_map_elem",
        &[ConstMapPtr, Func, StackOrNull, Anything],
        Ret::Integer,
        (5, 13),
    ),
    p(
        h::LOOP,
        "bpf_loop",
        &[Anything, Func, StackOrNull, Anything],
        Ret::Integer,
        (5, 17),
    ),
    Proto {
        id: h::STAPC_STR_CONCAT,
        name: "stapc_str_concat",
        args: &[UninitMem, Mem, Mem, ConstSize],
        ret: Ret::Integer,
        since: KernelVersion::new(0, 0),
        stapc: true,
    },
    Proto {
        id: h::STAPC_STR_COMPARE,
        name: "stapc_str_compare",
        args: &[Mem, Mem, ConstSize],
        ret: Ret::Integer,
        since: KernelVersion::new(0, 0),
        stapc: true,
    },
    // ---- statistics ----
    Proto {
        id: h::STAPC_STAT_READ,
        name: "stapc_stat_read",
        args: &[ConstMapPtr, MapKey, Anything],
        ret: Ret::Integer,
        since: KernelVersion::new(0, 0),
        stapc: true,
    },
    Proto {
        id: h::STAPC_STAT_CLEAR,
        name: "stapc_stat_clear",
        args: &[ConstMapPtr, MapKey],
        ret: Ret::Integer,
        since: KernelVersion::new(0, 0),
        stapc: true,
    },
];

/// Every prototype, in helper-id order.
pub fn all() -> &'static [Proto] {
    PROTOS
}

pub fn proto(id: i32) -> Option<&'static Proto> {
    PROTOS.iter().find(|p| p.id == id)
}

/// The kernel's `func_id_name`: the helper's name, `unknown` when the id is
/// outside the kernel's table.
pub fn func_name(id: i32, kernel: KernelVersion) -> String {
    match proto(id) {
        Some(p) if !p.stapc && kernel >= p.since => p.name.to_string(),
        _ => "unknown".to_string(),
    }
}

/// Why a call is refused before its arguments are looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The kernel does not know the id at all ("invalid func").
    UnknownId,
    /// The program type may not call it ("unknown func" / "program of this
    /// type cannot use helper").
    NotForProgType,
}

/// Whether `prog_type` may call `id` on `kernel`; `userspace` programs
/// (stapc's begin/end/error) may also call the STAPC_* helpers.
pub fn allowed(
    id: i32,
    prog_type: ProgramType,
    kernel: KernelVersion,
    userspace: bool,
) -> Result<&'static Proto, Refusal> {
    let Some(p) = proto(id) else {
        return Err(Refusal::UnknownId);
    };
    if p.stapc {
        return if userspace && prog_type == ProgramType::Syscall {
            Ok(p)
        } else {
            Err(Refusal::UnknownId)
        };
    }
    if kernel < p.since {
        return Err(Refusal::UnknownId);
    }
    // Outside tracing, only the kernel's base set: the user/kernel probe
    // reads joined it (for CAP_PERFMON) in the 6.x series, the pid/tgid
    // uid/gid and comm helpers by 6.10 (all three load as socket filters on
    // 6.18); bpf_probe_read and bpf_probe_read_str stayed tracing-only.
    let base_since = match id {
        h::PROBE_READ_USER
        | h::PROBE_READ_USER_STR
        | h::PROBE_READ_KERNEL
        | h::PROBE_READ_KERNEL_STR => Some(KernelVersion::new(6, 0)),
        h::GET_CURRENT_PID_TGID | h::GET_CURRENT_UID_GID | h::GET_CURRENT_COMM => {
            Some(KernelVersion::new(6, 10))
        }
        h::PROBE_READ | h::PROBE_READ_STR => None,
        _ => Some(KernelVersion::new(0, 0)),
    };
    let tracing_only = base_since.is_none_or(|v| kernel < v);
    let ok = match prog_type {
        ProgramType::SocketFilter => {
            // The networking base set: no process context, no user memory.
            !tracing_only
        }
        ProgramType::Kprobe
        | ProgramType::Tracepoint
        | ProgramType::PerfEvent
        | ProgramType::RawTracepoint
        | ProgramType::Syscall => true,
    };
    if ok {
        Ok(p)
    } else {
        Err(Refusal::NotForProgType)
    }
}
