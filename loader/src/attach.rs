//! Attaching loaded programs to their probe points through perf events:
//! timers and perf counters (one event per CPU where needed), tracepoints
//! (id from tracefs), uprobes and kprobes (through the perf uprobe/kprobe
//! PMUs). Each `Attachment` owns its perf event fds; closing them detaches.

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use stapc_bpf::ProbeKind;

use crate::maps::{self, MapError};
use crate::sys::{self, Call, PerfEventAttr, PerfIoctl, SysError};
use crate::{Loaded, LoadedProgram};

// `enum perf_type_id` and friends.
pub const PERF_TYPE_HARDWARE: u32 = 0;
pub const PERF_TYPE_SOFTWARE: u32 = 1;
pub const PERF_TYPE_TRACEPOINT: u32 = 2;
pub const PERF_COUNT_SW_CPU_CLOCK: u64 = 0;
pub const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
/// `perf_event_attr.flags` bit: start disabled (enabled once the program is set).
const ATTR_DISABLED: u64 = 1;

/// Where tracefs is usually found, newest convention first.
const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
const PMU_ROOT: &str = "/sys/bus/event_source/devices";

/// Why attaching one probe failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachFailure {
    Syscall(SysError),
    /// tracefs is not mounted and could not be mounted.
    Tracefs {
        reason: String,
    },
    /// The tracepoint does not exist (no `events/GROUP/NAME/id`).
    NoTracepoint {
        group: String,
        name: String,
    },
    /// The kernel has no perf PMU for this probe kind.
    NoPmu {
        pmu: &'static str,
        reason: String,
    },
    /// The ELF file of a uprobe could not be read or parsed.
    Elf {
        path: String,
        reason: String,
    },
    /// The uprobe's symbol is not defined in the ELF file.
    NoSymbol {
        path: String,
        symbol: String,
    },
    Cpus(MapError),
}

impl fmt::Display for AttachFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachFailure::Syscall(e) => write!(f, "{e}"),
            AttachFailure::Tracefs { reason } => write!(f, "tracefs is not available: {reason}"),
            AttachFailure::NoTracepoint { group, name } => {
                write!(f, "the kernel has no tracepoint {group}:{name}")
            }
            AttachFailure::NoPmu { pmu, reason } => {
                write!(f, "this kernel cannot create {pmu} events: {reason}")
            }
            AttachFailure::Elf { path, reason } => {
                write!(f, "cannot read ELF file {path}: {reason}")
            }
            AttachFailure::NoSymbol { path, symbol } => {
                write!(f, "{path} defines no function `{symbol}`")
            }
            AttachFailure::Cpus(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachError {
    /// `Loaded` has no program of that name.
    UnknownProgram { name: String },
    /// begin/end/error probes run in userspace and are never attached.
    Userspace { program: String, point: String },
    Failed {
        program: String,
        point: String,
        reason: AttachFailure,
    },
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachError::UnknownProgram { name } => write!(f, "no loaded program is named `{name}`"),
            AttachError::Userspace { program, point } => write!(
                f,
                "probe {point} (program `{program}`) runs in userspace and is not attached to the kernel"
            ),
            AttachError::Failed { program, point, reason } => {
                write!(f, "cannot attach probe {point} (program `{program}`): {reason}")
            }
        }
    }
}

impl std::error::Error for AttachError {}

impl From<SysError> for AttachFailure {
    fn from(e: SysError) -> AttachFailure {
        AttachFailure::Syscall(e)
    }
}

/// A program attached to its probe point; dropping it detaches.
#[derive(Debug)]
pub struct Attachment {
    program: String,
    point: String,
    events: Vec<OwnedFd>,
}

impl Attachment {
    pub fn program(&self) -> &str {
        &self.program
    }

    pub fn point(&self) -> &str {
        &self.point
    }

    /// The perf events the program is attached through (one per CPU for
    /// profile timers and perf counters, else one).
    pub fn events(&self) -> usize {
        self.events.len()
    }

    /// Stop the events now (they are closed, detaching the program, on drop).
    pub fn disable(&self) -> Result<(), SysError> {
        for fd in &self.events {
            sys::syscall(&mut Call::PerfEventIoctl {
                fd: fd.as_fd(),
                op: PerfIoctl::Disable,
            })?;
        }
        Ok(())
    }
}

/// Attach the program named `name` of `loaded` to its probe point.
pub fn attach(loaded: &Loaded, name: &str) -> Result<Attachment, AttachError> {
    let prog = loaded
        .program(name)
        .ok_or_else(|| AttachError::UnknownProgram { name: name.into() })?;
    attach_program(prog)
}

/// Attach every kernel program of `loaded`, in object order. On failure the
/// ones already attached are detached (dropped) and the error returned.
pub fn attach_all(loaded: &Loaded) -> Result<Vec<Attachment>, AttachError> {
    loaded.programs().iter().map(attach_program).collect()
}

fn attach_program(prog: &LoadedProgram) -> Result<Attachment, AttachError> {
    let failed = |reason| AttachError::Failed {
        program: prog.name().into(),
        point: prog.point().into(),
        reason,
    };
    let events = match prog.kind() {
        ProbeKind::Begin { .. }
        | ProbeKind::End { .. }
        | ProbeKind::Error { .. }
        | ProbeKind::UserTimer { .. } => {
            return Err(AttachError::Userspace {
                program: prog.name().into(),
                point: prog.point().into(),
            })
        }
        ProbeKind::Timer { period_ns, profile } => {
            attach_timer(prog.fd(), *period_ns, *profile).map_err(failed)?
        }
        ProbeKind::Perf {
            type_,
            config,
            sample_period,
        } => attach_perf_counter(prog.fd(), *type_, *config, *sample_period).map_err(failed)?,
        ProbeKind::Tracepoint { group, name } => {
            let id = tracepoint_id(group, name).map_err(failed)?;
            vec![attach_tracepoint_id(prog.fd(), id).map_err(failed)?]
        }
        ProbeKind::Uprobe { path, symbol, ret } => {
            vec![attach_uprobe(prog.fd(), path, symbol, *ret).map_err(failed)?]
        }
        ProbeKind::Kprobe { function, ret } => {
            vec![attach_kprobe(prog.fd(), function, *ret).map_err(failed)?]
        }
    };
    Ok(Attachment {
        program: prog.name().into(),
        point: prog.point().into(),
        events,
    })
}

/// Open one perf event, set the program on it and enable it, in that order
/// (the event starts disabled so it never fires without the program).
fn open_with_program(
    prog: BorrowedFd<'_>,
    mut attr: PerfEventAttr,
    name: Option<&CStr>,
    cpu: i32,
) -> Result<OwnedFd, SysError> {
    attr.flags |= ATTR_DISABLED;
    let fd = sys::syscall_fd(&mut Call::PerfEventOpen {
        attr,
        name,
        pid: -1,
        cpu,
    })?;
    sys::syscall(&mut Call::PerfEventIoctl {
        fd: fd.as_fd(),
        op: PerfIoctl::SetBpf(prog),
    })?;
    sys::syscall(&mut Call::PerfEventIoctl {
        fd: fd.as_fd(),
        op: PerfIoctl::Enable,
    })?;
    Ok(fd)
}

fn on_cpus(
    prog: BorrowedFd<'_>,
    attr: PerfEventAttr,
    cpus: &[u32],
) -> Result<Vec<OwnedFd>, AttachFailure> {
    cpus.iter()
        .map(|&cpu| open_with_program(prog, attr, None, cpu as i32).map_err(AttachFailure::from))
        .collect()
}

/// A CPU-clock software event firing every `period_ns`: on the first online
/// CPU (`timer.ms(N)`), or on every online CPU (`timer.profile`).
pub fn attach_timer(
    prog: BorrowedFd<'_>,
    period_ns: u64,
    profile: bool,
) -> Result<Vec<OwnedFd>, AttachFailure> {
    let online = maps::online_cpus().map_err(AttachFailure::Cpus)?;
    let cpus = if profile { &online[..] } else { &online[..1] };
    let mut attr = PerfEventAttr::new(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK);
    attr.sample_period = period_ns.max(1);
    on_cpus(prog, attr, cpus)
}

/// A perf counter sampled every `sample_period` events, on every online CPU.
pub fn attach_perf_counter(
    prog: BorrowedFd<'_>,
    type_: u32,
    config: u64,
    sample_period: u64,
) -> Result<Vec<OwnedFd>, AttachFailure> {
    let online = maps::online_cpus().map_err(AttachFailure::Cpus)?;
    let mut attr = PerfEventAttr::new(type_, config);
    attr.sample_period = sample_period.max(1);
    on_cpus(prog, attr, &online)
}

/// Attach to the tracepoint with tracefs id `id`. The program is attached to
/// the tracepoint itself, so one event (CPU 0, every task) sees all CPUs.
pub fn attach_tracepoint_id(prog: BorrowedFd<'_>, id: u64) -> Result<OwnedFd, AttachFailure> {
    let mut attr = PerfEventAttr::new(PERF_TYPE_TRACEPOINT, id);
    attr.sample_period = 1;
    attr.wakeup_events = 1;
    Ok(open_with_program(prog, attr, None, 0)?)
}

/// Attach a raw tracepoint program (`ProgramType::RawTracepoint`) to the
/// raw tracepoint `name` (e.g. `sys_enter`); the returned fd owns the link.
pub fn attach_raw_tracepoint(prog: BorrowedFd<'_>, name: &str) -> Result<OwnedFd, AttachFailure> {
    let missing = || AttachFailure::NoTracepoint {
        group: "raw".into(),
        name: name.into(),
    };
    if !valid_event_name(name) {
        return Err(missing());
    }
    let cname = CString::new(name).map_err(|_| missing())?;
    match sys::syscall_fd(&mut Call::RawTracepointOpen { name: &cname, prog }) {
        Err(e) if e.errno == libc::ENOENT => Err(missing()),
        r => Ok(r?),
    }
}

/// Tracepoint group and event names are C identifiers; anything else (a
/// `/`, `..`) must not reach a path.
fn valid_event_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Read `events/GROUP/NAME/id` under the tracefs mounted at `root`.
pub fn read_tracepoint_id(root: &Path, group: &str, name: &str) -> Result<u64, AttachFailure> {
    let missing = || AttachFailure::NoTracepoint {
        group: group.into(),
        name: name.into(),
    };
    if !valid_event_name(group) || !valid_event_name(name) {
        return Err(missing());
    }
    let path = root.join("events").join(group).join(name).join("id");
    let text = std::fs::read_to_string(&path).map_err(|_| missing())?;
    text.trim().parse().map_err(|_| missing())
}

/// Serialises tracefs lookups: one thread's unmount must not pull tracefs
/// from under another's read.
static TRACEFS: Mutex<()> = Mutex::new(());

/// Unmounts tracefs on drop, if this process mounted it.
struct MountGuard(CString);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = sys::syscall(&mut Call::Umount { target: &self.0 });
    }
}

/// The tracefs id of `group:name`, mounting tracefs at /sys/kernel/tracing
/// for the lookup (and unmounting it after) when it is not mounted.
pub fn tracepoint_id(group: &str, name: &str) -> Result<u64, AttachFailure> {
    let _lock = TRACEFS.lock().unwrap_or_else(|e| e.into_inner());
    for root in TRACEFS_ROOTS {
        if Path::new(root).join("events").is_dir() {
            return read_tracepoint_id(Path::new(root), group, name);
        }
    }
    let root = TRACEFS_ROOTS[0];
    let target = CString::new(root).map_err(|e| AttachFailure::Tracefs {
        reason: e.to_string(),
    })?;
    sys::syscall(&mut Call::MountTracefs { target: &target }).map_err(|e| {
        AttachFailure::Tracefs {
            reason: format!("not mounted, and mounting it at {root} failed: {e}"),
        }
    })?;
    let _mounted = MountGuard(target);
    read_tracepoint_id(Path::new(root), group, name)
}

/// The type number of perf PMU `pmu` (`uprobe`, `kprobe`).
fn pmu_type(pmu: &'static str) -> Result<u32, AttachFailure> {
    let path = format!("{PMU_ROOT}/{pmu}/type");
    let text = std::fs::read_to_string(&path).map_err(|e| AttachFailure::NoPmu {
        pmu,
        reason: match pmu {
            "kprobe" => format!(
                "{path}: {e} (kprobes are not built into this kernel: CONFIG_KPROBE_EVENTS)"
            ),
            _ => format!("{path}: {e} (CONFIG_UPROBE_EVENTS)"),
        },
    })?;
    text.trim().parse().map_err(|_| AttachFailure::NoPmu {
        pmu,
        reason: format!("{path}: cannot parse {:?}", text.trim()),
    })
}

/// The `config` bit that makes a PMU event a return probe (`config:0`).
fn retprobe_bit(pmu: &'static str) -> Result<u64, AttachFailure> {
    let path = format!("{PMU_ROOT}/{pmu}/format/retprobe");
    let text = std::fs::read_to_string(&path).map_err(|e| AttachFailure::NoPmu {
        pmu,
        reason: format!("{path}: {e} (return probes are not supported)"),
    })?;
    parse_config_bit(&text).ok_or_else(|| AttachFailure::NoPmu {
        pmu,
        reason: format!("{path}: cannot parse {:?}", text.trim()),
    })
}

fn parse_config_bit(text: &str) -> Option<u64> {
    let bit: u32 = text.trim().strip_prefix("config:")?.parse().ok()?;
    1u64.checked_shl(bit)
}

/// Find `path` as given, or on `$PATH` when it has no `/`.
fn resolve_binary(path: &str) -> PathBuf {
    let p = Path::new(path);
    if path.contains('/') || p.exists() {
        return p.to_path_buf();
    }
    std::env::var_os("PATH")
        .and_then(|dirs| {
            std::env::split_paths(&dirs)
                .map(|d| d.join(path))
                .find(|c| c.is_file())
        })
        .unwrap_or_else(|| p.to_path_buf())
}

/// The file offset of function `symbol` in the ELF image `data` (what the
/// uprobe PMU wants): its address mapped through the segment containing it.
pub fn symbol_file_offset(data: &[u8], symbol: &str) -> Result<Option<u64>, String> {
    use object::{Object, ObjectSegment, ObjectSymbol};
    let file = object::File::parse(data).map_err(|e| e.to_string())?;
    let Some(sym) = file
        .symbols()
        .chain(file.dynamic_symbols())
        .find(|s| s.is_definition() && s.name() == Ok(symbol) && s.address() != 0)
    else {
        return Ok(None);
    };
    let addr = sym.address();
    for seg in file.segments() {
        let (offset, size) = seg.file_range();
        if addr >= seg.address() && addr - seg.address() < size {
            return Ok(Some(addr - seg.address() + offset));
        }
    }
    Err(format!(
        "symbol `{symbol}` at {addr:#x} is in no loadable segment"
    ))
}

/// A uprobe (or uretprobe) on `symbol` of `path`, in every process.
pub fn attach_uprobe(
    prog: BorrowedFd<'_>,
    path: &str,
    symbol: &str,
    ret: bool,
) -> Result<OwnedFd, AttachFailure> {
    let pmu = pmu_type("uprobe")?;
    let file = resolve_binary(path);
    let shown = file.display().to_string();
    let data = std::fs::read(&file).map_err(|e| AttachFailure::Elf {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let offset = symbol_file_offset(&data, symbol)
        .map_err(|reason| AttachFailure::Elf {
            path: shown.clone(),
            reason,
        })?
        .ok_or_else(|| AttachFailure::NoSymbol {
            path: shown.clone(),
            symbol: symbol.into(),
        })?;
    let cpath = CString::new(shown.clone()).map_err(|_| AttachFailure::Elf {
        path: shown.clone(),
        reason: "the path contains a NUL byte".into(),
    })?;
    let config = if ret { retprobe_bit("uprobe")? } else { 0 };
    let mut attr = PerfEventAttr::new(pmu, config);
    attr.config2 = offset;
    attr.sample_period = 1;
    attr.wakeup_events = 1;
    Ok(open_with_program(prog, attr, Some(&cpath), 0)?)
}

/// A kprobe (or kretprobe) on kernel function `function`, through the perf
/// kprobe PMU.
pub fn attach_kprobe(
    prog: BorrowedFd<'_>,
    function: &str,
    ret: bool,
) -> Result<OwnedFd, AttachFailure> {
    let pmu = pmu_type("kprobe")?;
    let name = CString::new(function).map_err(|_| AttachFailure::NoPmu {
        pmu: "kprobe",
        reason: "the function name contains a NUL byte".into(),
    })?;
    let config = if ret { retprobe_bit("kprobe")? } else { 0 };
    let mut attr = PerfEventAttr::new(pmu, config);
    attr.sample_period = 1;
    attr.wakeup_events = 1;
    Ok(open_with_program(prog, attr, Some(&name), 0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake;
    use std::cell::RefCell;
    use std::os::fd::AsRawFd;
    use std::rc::Rc;

    /// Record the perf calls as text.
    fn record() -> Rc<RefCell<Vec<String>>> {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        fake::set(move |call| {
            let s = match call {
                Call::PerfEventOpen {
                    attr,
                    cpu,
                    pid,
                    name,
                } => format!(
                    "open type={} config={} period={} disabled={} pid={pid} cpu={cpu} name={:?}",
                    attr.type_,
                    attr.config,
                    attr.sample_period,
                    attr.flags & 1,
                    name.map(|n| n.to_string_lossy().into_owned())
                ),
                Call::PerfEventIoctl {
                    op: PerfIoctl::SetBpf(p),
                    ..
                } => format!("set_bpf {}", p.as_raw_fd()),
                Call::PerfEventIoctl { op, .. } => format!("{op:?}"),
                _ => return Err(libc::EINVAL),
            };
            l.borrow_mut().push(s);
            Ok(0)
        });
        log
    }

    #[test]
    fn timer_events_are_opened_then_programmed_then_enabled() {
        let log = record();
        let prog = std::fs::File::open("/dev/null").unwrap();
        let p = prog.as_fd().as_raw_fd();
        let fds = attach_timer(prog.as_fd(), 1_000_000, false).unwrap();
        let first = maps::online_cpus().unwrap()[0];
        assert_eq!(fds.len(), 1);
        assert_eq!(
            *log.borrow(),
            vec![
                format!(
                    "open type=1 config=0 period=1000000 disabled=1 pid=-1 cpu={first} name=None"
                ),
                format!("set_bpf {p}"),
                "Enable".to_string(),
            ]
        );
        log.borrow_mut().clear();
        let all = attach_timer(prog.as_fd(), 5, true).unwrap();
        assert_eq!(all.len(), maps::online_cpus().unwrap().len());
        assert_eq!(log.borrow().len(), 3 * all.len());
        fake::clear();
    }

    #[test]
    fn a_failing_ioctl_closes_the_event_and_says_which_call() {
        fake::set(|call| match call {
            Call::PerfEventIoctl {
                op: PerfIoctl::SetBpf(_),
                ..
            } => Err(libc::EINVAL),
            _ => Ok(0),
        });
        let prog = std::fs::File::open("/dev/null").unwrap();
        let err = attach_tracepoint_id(prog.as_fd(), 42).unwrap_err();
        fake::clear();
        assert_eq!(
            err.to_string(),
            "ioctl(PERF_EVENT_IOC_SET_BPF) failed: EINVAL (Invalid argument)"
        );
    }

    #[test]
    fn tracepoint_attr_carries_the_id() {
        let log = record();
        let prog = std::fs::File::open("/dev/null").unwrap();
        attach_tracepoint_id(prog.as_fd(), 321).unwrap();
        fake::clear();
        assert!(
            log.borrow()[0].starts_with("open type=2 config=321 period=1 disabled=1 pid=-1 cpu=0")
        );
        assert_eq!(log.borrow().len(), 3);
    }

    #[test]
    fn tracepoint_ids_come_from_tracefs() {
        let root = std::env::temp_dir().join(format!("stapc-tracefs-{}", std::process::id()));
        let dir = root.join("events/syscalls/sys_enter_getpid");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("id"), "573\n").unwrap();
        assert_eq!(
            read_tracepoint_id(&root, "syscalls", "sys_enter_getpid"),
            Ok(573)
        );
        let missing = read_tracepoint_id(&root, "syscalls", "sys_enter_nothing").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "the kernel has no tracepoint syscalls:sys_enter_nothing"
        );
        // Names are identifiers, never paths.
        assert!(read_tracepoint_id(&root, "..", "x").is_err());
        assert!(read_tracepoint_id(&root, "syscalls/../syscalls", "sys_enter_getpid").is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn config_bits_parse() {
        assert_eq!(parse_config_bit("config:0\n"), Some(1));
        assert_eq!(parse_config_bit("config:5"), Some(32));
        assert_eq!(parse_config_bit("config:32-63"), None);
        assert_eq!(parse_config_bit("config:64"), None);
    }

    #[test]
    fn symbol_offsets_come_from_the_segments() {
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let off = symbol_file_offset(&exe, "main")
            .unwrap()
            .expect("test binaries define main");
        assert!(off > 0 && (off as usize) < exe.len());
        assert_eq!(
            symbol_file_offset(&exe, "no_such_symbol_anywhere").unwrap(),
            None
        );
        assert!(symbol_file_offset(b"not an elf file", "main").is_err());
    }

    #[test]
    fn errors_name_the_probe() {
        let e = AttachError::Failed {
            program: "kprobe_3".into(),
            point: "kernel.function(\"vfs_read\")".into(),
            reason: AttachFailure::NoPmu {
                pmu: "kprobe",
                reason: "no PMU".into(),
            },
        };
        assert_eq!(
            e.to_string(),
            "cannot attach probe kernel.function(\"vfs_read\") (program `kprobe_3`): this kernel cannot create kprobe events: no PMU"
        );
    }
}
