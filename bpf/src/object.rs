//! The compiled script: programs (one per probe point), maps, printf formats,
//! runtime error messages and the line table. Also the runtime data layout
//! every layer agrees on (ARCHITECTURE.md, "Runtime data layout").
//!
//! Map references inside program instructions are `lddw` slots with
//! `src = BPF_PSEUDO_MAP_FD` and `imm = index into Object::maps`; the loader
//! patches in real fds, the simulator resolves the index directly.

use crate::insn::Insn;

/// The record kinds a program sends to userspace through the output map.
///
/// Every record starts with an 8-byte header: `kind: u32` (little endian) at
/// offset 0 and `id: u32` at offset 4; the arguments follow at offset 8.
pub mod record {
    /// `id` = index into `Object::formats`; args laid out per the format's `args`.
    pub const PRINTF: u32 = 1;
    /// `exit()`: the session should stop after this handler. `id` unused (0).
    pub const EXIT: u32 = 2;
    /// An uncaught runtime error; `id` = index into `Object::errors`. When the
    /// message is dynamic (`error(msg)`), one string argument follows.
    pub const ERROR: u32 = 3;
    /// `print(@hist_*(s))`: `id` = index into `Object::hists`; for an array of
    /// statistics the packed key (the array's key layout) follows. Userspace
    /// reads the statistic's per-CPU map, merges the CPUs and prints.
    pub const HIST: u32 = 4;
    /// Text the simulator already rendered: a userspace program's
    /// `print(@hist_…)` becomes one when it runs, so the histogram shows the
    /// statistic as it was then (the handler may change or delete it
    /// before its records are printed). Never sent by a BPF program.
    pub const TEXT: u32 = 5;
    pub const HEADER_SIZE: u32 = 8;
}

/// Layout of the one-entry control array map (`Object::control_map`).
pub mod control {
    /// u64: non-zero once the session is ending (exit() or an error); every
    /// program returns at once when it is set.
    pub const EXIT_FLAG: i16 = 0;
    /// u64: number of runtime errors raised so far.
    pub const ERROR_COUNT: i16 = 8;
    /// u64: what `target()` returns: the pid given with `-x`, or the pid of
    /// the `-c` command; 0 when there is none. Written by userspace (the
    /// simulator's session, the loader's runtime) before any program runs.
    pub const TARGET_PID: i16 = 16;
    /// u64: output records a kernel program could not send because the ring
    /// or perf buffer was full (the program adds 1 when the output helper
    /// returns an error), so userspace can report them instead of losing
    /// them silently. Ring buffers have no loss counter of their own.
    pub const OUTPUT_DROPS: i16 = 24;
    /// i64: wall-clock time minus `ktime_get_ns` (CLOCK_REALTIME −
    /// CLOCK_MONOTONIC), written by userspace before any program runs, so
    /// kernel programs compute `gettimeofday_*()` as `ktime_get_ns() +`
    /// this (0 in the simulator, whose clocks both start at 0).
    pub const REALTIME_OFFSET: i16 = 32;
    pub const VALUE_SIZE: u32 = 40;
    /// Control values written by objects older than `TARGET_PID` hold only
    /// the exit flag and the error count; readers accept them.
    pub const MIN_VALUE_SIZE: u32 = 16;
}

/// Names of the runtime maps the backend creates.
pub mod map_names {
    pub const GLOBALS: &str = "stapc_globals";
    pub const CONTROL: &str = "stapc_control";
    pub const SCRATCH: &str = "stapc_scratch";
    pub const OUTPUT: &str = "stapc_output";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKind {
    Array,
    Hash,
    PerCpuArray,
    PerCpuHash,
    LruHash,
    PerfEventArray,
    RingBuf,
}

impl MapKind {
    /// The kernel's `enum bpf_map_type` value.
    pub fn kernel_type(self) -> u32 {
        match self {
            MapKind::Hash => 1,
            MapKind::Array => 2,
            MapKind::PerfEventArray => 4,
            MapKind::PerCpuHash => 5,
            MapKind::PerCpuArray => 6,
            MapKind::LruHash => 9,
            MapKind::RingBuf => 27,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MapKind::Array => "array",
            MapKind::Hash => "hash",
            MapKind::PerCpuArray => "percpu_array",
            MapKind::PerCpuHash => "percpu_hash",
            MapKind::LruHash => "lru_hash",
            MapKind::PerfEventArray => "perf_event_array",
            MapKind::RingBuf => "ringbuf",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    pub name: String,
    pub kind: MapKind,
    pub key_size: u32,
    pub value_size: u32,
    /// For a ring buffer: its size in bytes (a power of two, multiple of the page size).
    /// For a perf event array: 0 means "one per possible CPU".
    pub max_entries: u32,
    /// Initial contents: (key bytes, value bytes), written by userspace
    /// before any program runs (e.g. global initialisers).
    pub init: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Where a probe runs and what it attaches to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// Userspace (simulator) probes; lower priority runs first, then source order.
    Begin {
        priority: i64,
    },
    End {
        priority: i64,
    },
    Error {
        priority: i64,
    },
    /// A periodic timer, `period_ns` apart; `profile` = every CPU (timer.profile).
    Timer {
        period_ns: u64,
        profile: bool,
    },
    /// A tracepoint `group:name`.
    Tracepoint {
        group: String,
        name: String,
    },
    /// kprobe / kretprobe on a kernel function.
    Kprobe {
        function: String,
        ret: bool,
    },
    /// uprobe / uretprobe on `symbol` of the ELF file `path`.
    Uprobe {
        path: String,
        symbol: String,
        ret: bool,
    },
    /// A perf event `type`/`config`, sampled every `sample_period` events.
    Perf {
        type_: u32,
        config: u64,
        sample_period: u64,
    },
    /// A `timer.*` probe (not `timer.profile`) that stapc runs itself, in
    /// userspace, every `period_ns`: what the compiler chooses when the
    /// handler needs what only userspace programs do (`foreach`, reading
    /// aggregates, most string functions, `sprintf`, …).
    UserTimer {
        period_ns: u64,
    },
}

impl ProbeKind {
    pub fn is_userspace(&self) -> bool {
        matches!(
            self,
            ProbeKind::Begin { .. }
                | ProbeKind::End { .. }
                | ProbeKind::Error { .. }
                | ProbeKind::UserTimer { .. }
        )
    }

    /// The kernel program type for this probe (userspace probes: `Syscall`,
    /// a context-free type the simulator and mini-verifier use for them).
    pub fn program_type(&self) -> ProgramType {
        match self {
            ProbeKind::Begin { .. }
            | ProbeKind::End { .. }
            | ProbeKind::Error { .. }
            | ProbeKind::UserTimer { .. } => ProgramType::Syscall,
            ProbeKind::Timer { .. } | ProbeKind::Perf { .. } => ProgramType::PerfEvent,
            ProbeKind::Tracepoint { .. } => ProgramType::Tracepoint,
            ProbeKind::Kprobe { .. } | ProbeKind::Uprobe { .. } => ProgramType::Kprobe,
        }
    }

    /// The ELF section name, as libbpf expects it.
    pub fn section_name(&self) -> String {
        match self {
            ProbeKind::Begin { .. } => "stapc/begin".into(),
            ProbeKind::End { .. } => "stapc/end".into(),
            ProbeKind::Error { .. } => "stapc/error".into(),
            ProbeKind::UserTimer { .. } => "stapc/timer".into(),
            ProbeKind::Timer { .. } | ProbeKind::Perf { .. } => "perf_event".into(),
            ProbeKind::Tracepoint { group, name } => format!("tracepoint/{group}/{name}"),
            ProbeKind::Kprobe {
                function,
                ret: false,
            } => format!("kprobe/{function}"),
            ProbeKind::Kprobe {
                function,
                ret: true,
            } => format!("kretprobe/{function}"),
            ProbeKind::Uprobe {
                path,
                symbol,
                ret: false,
            } => format!("uprobe/{path}:{symbol}"),
            ProbeKind::Uprobe {
                path,
                symbol,
                ret: true,
            } => format!("uretprobe/{path}:{symbol}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgramType {
    SocketFilter,
    Kprobe,
    Tracepoint,
    PerfEvent,
    RawTracepoint,
    Syscall,
}

impl ProgramType {
    /// The kernel's `enum bpf_prog_type` value.
    pub fn kernel_type(self) -> u32 {
        match self {
            ProgramType::SocketFilter => 1,
            ProgramType::Kprobe => 2,
            ProgramType::Tracepoint => 5,
            ProgramType::PerfEvent => 7,
            ProgramType::RawTracepoint => 17,
            ProgramType::Syscall => 31,
        }
    }
}

/// One source position for the instruction at `insn` (and the ones after it,
/// up to the next entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineEntry {
    pub insn: u32,
    pub line: u32,
    pub col: u32,
}

/// A named field of a program's context that the program reads (a
/// tracepoint field or syscall argument, `$name` in the script): where it
/// is, so that the simulator can place an event's value for it there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtxField {
    pub name: String,
    pub offset: u32,
    /// 1, 2, 4 or 8 bytes, little endian.
    pub size: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Symbol name, unique in the object (e.g. `begin_0`, `timer_ms_100_2`).
    pub name: String,
    pub kind: ProbeKind,
    /// The script's text for the probe point, as `pp()` returns it.
    pub point: String,
    pub insns: Vec<Insn>,
    /// Sorted by `insn`.
    pub lines: Vec<LineEntry>,
    /// The named context fields the program reads, in first-use order.
    pub fields: Vec<CtxField>,
}

impl Program {
    pub fn section_name(&self) -> String {
        self.kind.section_name()
    }

    /// The script line of instruction `insn`, if the line table covers it.
    pub fn line_of(&self, insn: u32) -> Option<LineEntry> {
        let i = self.lines.partition_point(|e| e.insn <= insn);
        i.checked_sub(1).map(|i| self.lines[i])
    }
}

/// How an argument of a record is laid out and formatted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// 8 bytes, little-endian i64.
    Long,
    /// `MAXSTRINGLEN` bytes (`Object::max_string_len`), NUL-terminated within.
    Str,
}

/// A printf-style record format. `text` is the script's format string with
/// escapes already decoded (`"%d\n"`); `args` gives the record layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pub text: String,
    pub args: Vec<ArgKind>,
}

/// A runtime error a program can raise (`id` of an ERROR record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorMsg {
    /// What `catch (msg)` sees, e.g. `division by 0`.
    pub message: String,
    /// Where, for the uncaught report, e.g. `near operator '/' at x.stp:3:50`.
    pub location: String,
}

/// A global associative array: one hash map, key = the index columns packed
/// (8 bytes per long, MAXSTRINGLEN per string), value = 8 bytes (long),
/// MAXSTRINGLEN (string), or a statistic's layout (`value` = None, `stat` set).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ArrayDesc {
    pub name: String,
    /// Index into `Object::maps`.
    pub map: u32,
    pub keys: Vec<ArgKind>,
    /// `None` for an array of statistics.
    pub value: Option<ArgKind>,
    /// For an array of statistics: index into `Object::stats`.
    pub stat: Option<u32>,
}

/// A statistic (`s <<< v`), global or per array element: a per-CPU map whose
/// value is `count, sum, min, max` (i64 each) then, when used, 129 log
/// buckets (index 64 holds 0; see sim's format module) and the linear buckets
/// (underflow, `(stop - start) / interval + 1` buckets, overflow), all i64.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StatDesc {
    pub name: String,
    /// Index into `Object::maps`.
    pub map: u32,
    /// Key layout for an array of statistics; empty for a global statistic (key = u32 0).
    pub keys: Vec<ArgKind>,
    pub log: bool,
    /// `(start, stop, interval)` of `@hist_linear`, when used.
    pub linear: Option<(i64, i64, i64)>,
}

impl StatDesc {
    pub const COUNT: u32 = 0;
    pub const SUM: u32 = 8;
    pub const MIN: u32 = 16;
    pub const MAX: u32 = 24;
    pub const LOG_BUCKETS: u32 = 129;

    /// Offset of the first log bucket, when `log`.
    pub fn log_offset(&self) -> u32 {
        32
    }

    pub fn linear_buckets(&self) -> u32 {
        match self.linear {
            Some((start, stop, interval)) if interval > 0 && stop >= start => {
                ((stop - start) / interval + 1) as u32 + 2
            }
            _ => 0,
        }
    }

    /// Offset of the linear underflow bucket, when `linear` is set.
    pub fn linear_offset(&self) -> u32 {
        32 + if self.log { Self::LOG_BUCKETS * 8 } else { 0 }
    }

    pub fn value_size(&self) -> u32 {
        self.linear_offset() + self.linear_buckets() * 8
    }
}

/// One `print(@hist_…)` site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistDesc {
    /// Index into `Object::stats`.
    pub stat: u32,
    /// Linear (the statistic's `linear` parameters) or log.
    pub linear: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Object {
    /// The script's file name as given (`<input>` for `-e`).
    pub source_name: String,
    pub programs: Vec<Program>,
    pub maps: Vec<MapDef>,
    pub formats: Vec<Format>,
    pub errors: Vec<ErrorMsg>,
    /// MAXSTRINGLEN the object was compiled with.
    pub max_string_len: u32,
    /// Indexes into `maps` of the runtime maps.
    pub control_map: u32,
    pub output_map: u32,
    pub license: String,
    pub arrays: Vec<ArrayDesc>,
    pub stats: Vec<StatDesc>,
    pub hists: Vec<HistDesc>,
}

impl Object {
    pub fn map_index(&self, name: &str) -> Option<u32> {
        self.maps
            .iter()
            .position(|m| m.name == name)
            .map(|i| i as u32)
    }

    /// Bytes of one record argument of `kind`.
    pub fn arg_size(&self, kind: ArgKind) -> u32 {
        match kind {
            ArgKind::Long => 8,
            ArgKind::Str => self.max_string_len,
        }
    }
}
