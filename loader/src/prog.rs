//! Loading programs: patching map references (`lddw` by map index → by fd),
//! `BPF_PROG_LOAD` with a verifier log that grows on ENOSPC, and the errors
//! that keep the kernel's log. Also the introspection calls tests and
//! `stapc` use (program info, loaded program ids, `BPF_PROG_TEST_RUN`).

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

use stapc_bpf::insn::{encode_all, BPF_PSEUDO_MAP_FD};
use stapc_bpf::{Insn, ProbeKind, ProgramType};

use crate::btf::{self, LineTable, ProgBtf};
use crate::maps::{object_name, MapError};
use crate::sys::{self, Call, ProgLoad, SysError, TestRun};

/// The first verifier log buffer; doubled (or grown to what the kernel says
/// it needs) on ENOSPC up to [`LOG_MAX`].
pub const LOG_START: usize = 64 * 1024;
pub const LOG_MAX: usize = 16 * 1024 * 1024;
/// How many lines of the verifier log an error message shows.
pub const LOG_TAIL_LINES: usize = 20;
/// `prog_flags` bit of `BPF_PROG_LOAD`.
const BPF_F_SLEEPABLE: u32 = 1 << 4;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// A map could not be created or initialised.
    Map(MapError),
    /// `lddw` with `src = BPF_PSEUDO_MAP_FD` names a map the object lacks.
    BadMapReference {
        program: String,
        insn: usize,
        index: u32,
    },
    /// An `lddw` is the program's last slot (its second half is missing).
    TruncatedLddw { program: String, insn: usize },
    /// The license string contains a NUL byte.
    BadLicense { license: String },
    /// The kernel's verifier rejected the program; `log` is its log.
    Verifier {
        program: String,
        point: String,
        errno: i32,
        log: String,
        truncated: bool,
    },
    /// `BPF_PROG_LOAD` failed without a verifier log (e.g. EPERM, EINVAL).
    Rejected {
        program: String,
        point: String,
        source: SysError,
    },
}

impl LoadError {
    /// The last `n` non-empty lines of a verifier log.
    pub fn log_tail(log: &str, n: usize) -> Vec<&str> {
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].to_vec()
    }
}

impl From<MapError> for LoadError {
    fn from(e: MapError) -> LoadError {
        LoadError::Map(e)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Map(e) => write!(f, "cannot create maps: {e}"),
            LoadError::BadMapReference { program, insn, index } => write!(
                f,
                "program `{program}`: instruction {insn} loads map #{index}, which the object does not have"
            ),
            LoadError::TruncatedLddw { program, insn } => write!(
                f,
                "program `{program}`: instruction {insn} is the first half of a 16-byte lddw with no second half"
            ),
            LoadError::BadLicense { license } => {
                write!(f, "license {license:?} contains a NUL byte")
            }
            LoadError::Verifier { program, point, errno, log, truncated } => {
                writeln!(
                    f,
                    "the kernel's verifier rejected probe {point} (program `{program}`): {}",
                    crate::errno::describe(*errno)
                )?;
                let tail = LoadError::log_tail(log, LOG_TAIL_LINES);
                let total = log.lines().filter(|l| !l.trim().is_empty()).count();
                if total > tail.len() {
                    writeln!(f, "verifier log (last {} of {total} lines):", tail.len())?;
                } else {
                    writeln!(f, "verifier log:")?;
                }
                for line in tail {
                    writeln!(f, "  {line}")?;
                }
                if *truncated {
                    writeln!(f, "  (the log was truncated at {} MiB)", LOG_MAX >> 20)?;
                }
                write!(f, "run `stapc --explain-verifier` to relate the log to script lines")
            }
            LoadError::Rejected { program, point, source } => {
                write!(f, "cannot load probe {point} (program `{program}`): {source}")?;
                if matches!(source.errno, libc::EPERM | libc::EACCES) {
                    write!(f, " — run as root or with CAP_BPF and CAP_PERFMON")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// Replace every map reference (`lddw` with `src = BPF_PSEUDO_MAP_FD`,
/// `imm` = map index) by the fd of that map.
pub fn patch_map_fds(program: &str, insns: &[Insn], fds: &[RawFd]) -> Result<Vec<Insn>, LoadError> {
    let mut out = insns.to_vec();
    let mut i = 0;
    while i < out.len() {
        if out[i].is_lddw() {
            if i + 1 >= out.len() {
                return Err(LoadError::TruncatedLddw {
                    program: program.into(),
                    insn: i,
                });
            }
            if out[i].src == BPF_PSEUDO_MAP_FD {
                let index = out[i].imm as u32;
                let fd = fds
                    .get(index as usize)
                    .ok_or_else(|| LoadError::BadMapReference {
                        program: program.into(),
                        insn: i,
                        index,
                    })?;
                out[i].imm = *fd;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    Ok(out)
}

/// `expected_attach_type` for a probe's program. The program types stapc
/// emits (kprobe, tracepoint, perf_event, syscall) are not checked against
/// an attach type at load time, so this is 0 (`BPF_CGROUP_INET_INGRESS`,
/// the kernel's "unspecified") for all of them.
pub fn expected_attach_type(kind: &ProbeKind) -> u32 {
    match kind {
        ProbeKind::Begin { .. }
        | ProbeKind::End { .. }
        | ProbeKind::Error { .. }
        | ProbeKind::UserTimer { .. }
        | ProbeKind::Timer { .. }
        | ProbeKind::Perf { .. }
        | ProbeKind::Tracepoint { .. }
        | ProbeKind::Kprobe { .. }
        | ProbeKind::Uprobe { .. } => 0,
    }
}

/// `LINUX_VERSION_CODE` of the running kernel; kprobe programs needed it
/// before 5.0 and later kernels ignore it.
fn kernel_version_code() -> u32 {
    let Ok(s) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return 0;
    };
    let mut parts = s
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    let a = parts.next().flatten().unwrap_or(0);
    let b = parts.next().flatten().unwrap_or(0);
    let c = parts.next().flatten().unwrap_or(0);
    (a << 16) | (b.min(255) << 8) | c.min(255)
}

/// What to load: one program, already patched with map fds.
#[derive(Clone, Copy, Debug)]
pub struct ProgramSpec<'a> {
    /// Object symbol name (also the kernel-visible name, up to 15 bytes).
    pub name: &'a str,
    /// The probe point, for error messages.
    pub point: &'a str,
    pub prog_type: ProgramType,
    pub expected_attach_type: u32,
    pub insns: &'a [Insn],
    pub license: &'a str,
    /// The line table, for BTF line info (`None`: load without).
    pub lines: Option<LineTable<'a>>,
}

/// A loaded BTF object and the records that refer to it.
type LoadedBtf = (OwnedFd, ProgBtf);

fn prog_load(
    spec: &ProgramSpec<'_>,
    license: &CString,
    insns: &[u8],
    btf: Option<&LoadedBtf>,
    log_level: u32,
    log: &mut [u8],
) -> (Result<OwnedFd, SysError>, u32) {
    let mut call = Call::ProgLoad(ProgLoad {
        prog_type: spec.prog_type.kernel_type(),
        expected_attach_type: spec.expected_attach_type,
        // The kernel loads syscall programs only as sleepable ones.
        prog_flags: if spec.prog_type == ProgramType::Syscall {
            BPF_F_SLEEPABLE
        } else {
            0
        },
        insns,
        license,
        name: object_name(spec.name),
        kern_version: if spec.prog_type == ProgramType::Kprobe {
            kernel_version_code()
        } else {
            0
        },
        btf: btf.map(|(fd, _)| fd.as_fd()),
        func_info: btf.map_or(&[][..], |(_, b)| &b.func_info),
        line_info: btf.map_or(&[][..], |(_, b)| &b.line_info),
        log_level,
        log,
        log_true_size: 0,
    });
    // The verifier may ask to be retried when interrupted.
    let mut result = sys::syscall_fd(&mut call);
    for _ in 0..5 {
        match &result {
            Err(e) if e.errno == libc::EAGAIN || e.errno == libc::EINTR => {
                result = sys::syscall_fd(&mut call)
            }
            _ => break,
        }
    }
    let true_size = match &call {
        Call::ProgLoad(p) => p.log_true_size,
        _ => 0,
    };
    (result, true_size)
}

/// Load one program. The first attempt asks for no log (fast, and what
/// succeeds); on failure the load is repeated with a verifier log that grows
/// on ENOSPC from [`LOG_START`] to [`LOG_MAX`], and the error keeps the log.
///
/// With a line table, the program is loaded with BTF line info so the
/// kernel's log quotes script lines; where the kernel refuses the BTF (no
/// BTF support, or EINVAL over the records) it is loaded without.
pub fn load_program(spec: &ProgramSpec<'_>) -> Result<OwnedFd, LoadError> {
    let license = CString::new(spec.license).map_err(|_| LoadError::BadLicense {
        license: spec.license.into(),
    })?;
    let insns = encode_all(spec.insns);
    let btf = spec
        .lines
        .and_then(|t| btf::build(spec.name, spec.insns, &t))
        .and_then(|b| load_btf(&b.blob).ok().map(|fd| (fd, b)));
    match load_with(spec, &license, &insns, btf.as_ref()) {
        Err(LoadError::Verifier {
            errno: libc::EINVAL,
            ..
        })
        | Err(LoadError::Rejected {
            source: SysError {
                errno: libc::EINVAL,
                ..
            },
            ..
        }) if btf.is_some() => load_with(spec, &license, &insns, None),
        r => r,
    }
}

/// Load one program asking the verifier for its statistics (log level 4,
/// `BPF_LOG_STATS`): the fd and the log's text (`processed N insns …`,
/// `verification time N usec`), for comparing stapc's mini-verifier with the
/// kernel's. A rejected program is reported as [`load_program`] reports it.
pub fn load_program_with_stats(spec: &ProgramSpec<'_>) -> Result<(OwnedFd, String), LoadError> {
    let license = CString::new(spec.license).map_err(|_| LoadError::BadLicense {
        license: spec.license.into(),
    })?;
    let insns = encode_all(spec.insns);
    let mut log = vec![0u8; LOG_START];
    match prog_load(spec, &license, &insns, None, 4, &mut log).0 {
        Ok(fd) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            Ok((fd, String::from_utf8_lossy(&log[..end]).into_owned()))
        }
        Err(_) => load_program(spec).map(|fd| (fd, String::new())),
    }
}

/// The kernel's own verification time from a log-level-4 log, in microseconds.
pub fn verification_time_usec(log: &str) -> Option<u64> {
    let rest = log.split("verification time ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// `BPF_BTF_LOAD` of `blob`.
pub fn load_btf(blob: &[u8]) -> Result<OwnedFd, SysError> {
    sys::syscall_fd(&mut Call::BtfLoad {
        btf: blob,
        log_level: 0,
        log: &mut [],
    })
}

fn load_with(
    spec: &ProgramSpec<'_>,
    license: &CString,
    insns: &[u8],
    btf: Option<&LoadedBtf>,
) -> Result<OwnedFd, LoadError> {
    let first = match prog_load(spec, license, insns, btf, 0, &mut []).0 {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    let mut size = LOG_START;
    loop {
        let mut log = vec![0u8; size];
        let (result, true_size) = prog_load(spec, license, insns, btf, 1, &mut log);
        let (errno, truncated) = match result {
            // Loading is not deterministic in every respect (e.g. memory
            // limits); if the retry succeeds, the program is loaded.
            Ok(fd) => return Ok(fd),
            Err(e) if e.errno == libc::ENOSPC && size < LOG_MAX => {
                size = (size * 2).max(true_size as usize).min(LOG_MAX);
                continue;
            }
            Err(e) if e.errno == libc::ENOSPC => (first.errno, true),
            Err(e) => (e.errno, false),
        };
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let text = String::from_utf8_lossy(&log[..end]).trim_end().to_string();
        if text.is_empty() {
            return Err(LoadError::Rejected {
                program: spec.name.into(),
                point: spec.point.into(),
                source: SysError { errno, ..first },
            });
        }
        return Err(LoadError::Verifier {
            program: spec.name.into(),
            point: spec.point.into(),
            errno,
            log: text,
            truncated,
        });
    }
}

/// The result of one `BPF_PROG_TEST_RUN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestRunResult {
    pub retval: u32,
    pub duration_ns: u32,
}

/// Run a loaded program once in the kernel with `ctx` as its context
/// (`syscall` programs take a context and no packet data).
pub fn test_run(prog: BorrowedFd<'_>, ctx: &[u8]) -> Result<TestRunResult, SysError> {
    // The kernel writes a syscall program's context back: give it a copy.
    test_run_syscall(prog, &mut ctx.to_vec())
}

/// Run a loaded `syscall` program once with `ctx` as its context; the
/// kernel copies the context back, so `ctx` ends up holding what the
/// program wrote into it.
pub fn test_run_syscall(prog: BorrowedFd<'_>, ctx: &mut [u8]) -> Result<TestRunResult, SysError> {
    test_run_with(prog, ctx, &[], 0)
}

/// Run a loaded program that takes packet data (e.g. a socket filter)
/// `repeat` times on `data`; `duration_ns` is the kernel's average per run.
pub fn test_run_repeat(
    prog: BorrowedFd<'_>,
    data: &[u8],
    repeat: u32,
) -> Result<TestRunResult, SysError> {
    test_run_with(prog, &mut [], data, repeat)
}

fn test_run_with(
    prog: BorrowedFd<'_>,
    ctx: &mut [u8],
    data: &[u8],
    repeat: u32,
) -> Result<TestRunResult, SysError> {
    let mut call = Call::ProgTestRun(TestRun {
        prog,
        ctx_in: ctx,
        data_in: data,
        data_out: &mut [],
        repeat,
        retval: 0,
        duration: 0,
    });
    sys::syscall(&mut call)?;
    match call {
        Call::ProgTestRun(t) => Ok(TestRunResult {
            retval: t.retval,
            duration_ns: t.duration,
        }),
        _ => Ok(TestRunResult {
            retval: 0,
            duration_ns: 0,
        }),
    }
}

/// What the kernel reports about a loaded program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgInfo {
    pub id: u32,
    pub prog_type: u32,
    pub name: String,
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a program.
pub fn prog_info(prog: BorrowedFd<'_>) -> Result<ProgInfo, SysError> {
    // The prefix of `struct bpf_prog_info` up to and including `name`.
    let mut info = [0u8; 80];
    sys::syscall(&mut Call::ObjGetInfoByFd {
        fd: prog,
        info: &mut info,
    })?;
    let u32_at = |o: usize| u32::from_le_bytes([info[o], info[o + 1], info[o + 2], info[o + 3]]);
    let name = &info[64..80];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(ProgInfo {
        prog_type: u32_at(0),
        id: u32_at(4),
        name: String::from_utf8_lossy(&name[..end]).into_owned(),
    })
}

/// Ids of every program loaded in the kernel (`BPF_PROG_GET_NEXT_ID`).
pub fn loaded_program_ids() -> Result<Vec<u32>, SysError> {
    let mut ids = Vec::new();
    let mut start_id = 0;
    loop {
        let mut call = Call::ProgGetNextId {
            start_id,
            next_id: 0,
        };
        match sys::syscall(&mut call) {
            Ok(_) => {}
            Err(e) if e.errno == libc::ENOENT => return Ok(ids),
            Err(e) => return Err(e),
        }
        let Call::ProgGetNextId { next_id, .. } = call else {
            return Ok(ids);
        };
        if next_id <= start_id {
            return Ok(ids);
        }
        ids.push(next_id);
        start_id = next_id;
    }
}

/// Info on the loaded program with `id`, `None` if it is gone.
pub fn prog_info_by_id(id: u32) -> Result<Option<ProgInfo>, SysError> {
    match sys::syscall_fd(&mut Call::ProgGetFdById { id }) {
        Ok(fd) => prog_info(fd.as_fd()).map(Some),
        Err(e) if e.errno == libc::ENOENT => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake;
    use stapc_bpf::insn::decode_all;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn spec(insns: &[Insn]) -> ProgramSpec<'_> {
        ProgramSpec {
            name: "timer_1",
            point: "timer.ms(100)",
            prog_type: ProgramType::PerfEvent,
            expected_attach_type: 0,
            insns,
            license: "GPL",
            lines: None,
        }
    }

    #[test]
    fn lddw_map_references_get_fds() {
        let mut insns = vec![];
        insns.extend(Insn::ld_map(1, 1));
        insns.push(Insn::mov64_imm(0, 0));
        insns.extend(Insn::lddw(2, 0x1_0000_0002)); // a constant, not a map
        insns.extend(Insn::ld_map(3, 0));
        insns.push(Insn::exit());
        let out = patch_map_fds("p", &insns, &[40, 41]).unwrap();
        assert_eq!(out[0].imm, 41);
        assert_eq!(out[0].src, BPF_PSEUDO_MAP_FD);
        assert_eq!(out[1].imm, 0);
        assert_eq!(out[3].imm, 2);
        assert_eq!(out[4].imm, 1);
        assert_eq!(out[5].imm, 40);
        assert_eq!(out.len(), insns.len());

        let bad = patch_map_fds("p", &Insn::ld_map(1, 5), &[40]).unwrap_err();
        assert_eq!(
            bad,
            LoadError::BadMapReference {
                program: "p".into(),
                insn: 0,
                index: 5
            }
        );
        assert!(bad.to_string().contains("map #5"));
        let cut = patch_map_fds("p", &Insn::ld_map(1, 0)[..1], &[40]).unwrap_err();
        assert_eq!(
            cut,
            LoadError::TruncatedLddw {
                program: "p".into(),
                insn: 0
            }
        );
    }

    #[test]
    fn log_grows_on_enospc_and_is_kept() {
        let sizes = Rc::new(RefCell::new(Vec::new()));
        let s = sizes.clone();
        fake::set(move |call| {
            let Call::ProgLoad(p) = call else {
                return Err(libc::EINVAL);
            };
            s.borrow_mut().push((p.log_level, p.log.len()));
            assert_eq!(decode_all(p.insns).unwrap().len(), 2);
            assert_eq!(p.prog_type, 7);
            assert_eq!(&p.name[..8], b"timer_1\0");
            if p.log_level == 0 {
                return Err(libc::EACCES);
            }
            let text = b"0: (b7) r0 = 0\n1: (95) exit\nR0 !read_ok\n";
            if p.log.len() < 256 * 1024 {
                p.log_true_size = 200 * 1024;
                p.log[..10].copy_from_slice(&text[..10]);
                return Err(libc::ENOSPC);
            }
            p.log[..text.len()].copy_from_slice(text);
            Err(libc::EACCES)
        });
        let insns = [Insn::mov64_imm(0, 0), Insn::exit()];
        let err = load_program(&spec(&insns)).unwrap_err();
        fake::clear();
        // 64 KiB; then the kernel's 200 KiB hint, as it beats doubling; then doubling.
        assert_eq!(
            *sizes.borrow(),
            vec![(0, 0), (1, 64 * 1024), (1, 200 * 1024), (1, 400 * 1024)]
        );
        let LoadError::Verifier {
            errno,
            ref log,
            truncated,
            ..
        } = err
        else {
            panic!("expected a verifier error, got {err:?}")
        };
        assert_eq!(errno, libc::EACCES);
        assert!(!truncated);
        assert!(log.ends_with("R0 !read_ok"));
        let text = err.to_string();
        assert!(text.starts_with(
            "the kernel's verifier rejected probe timer.ms(100) (program `timer_1`): EACCES (Permission denied)\n"
        ));
        assert!(text.contains("\n  R0 !read_ok\n"));
        assert!(text.ends_with("run `stapc --explain-verifier` to relate the log to script lines"));
    }

    #[test]
    fn log_growth_stops_at_the_cap() {
        let calls = Rc::new(RefCell::new(0));
        let c = calls.clone();
        fake::set(move |call| {
            let Call::ProgLoad(p) = call else {
                return Err(libc::EINVAL);
            };
            *c.borrow_mut() += 1;
            if p.log_level == 0 {
                return Err(libc::E2BIG);
            }
            p.log[..5].copy_from_slice(b"tail\n");
            Err(libc::ENOSPC)
        });
        let insns = [Insn::exit()];
        let err = load_program(&spec(&insns)).unwrap_err();
        fake::clear();
        // 1 quiet load + 64K,128K,...,16M = 1 + 9.
        assert_eq!(*calls.borrow(), 10);
        assert!(matches!(
            err,
            LoadError::Verifier {
                errno: libc::E2BIG,
                truncated: true,
                ..
            }
        ));
        assert!(err
            .to_string()
            .contains("(the log was truncated at 16 MiB)"));
    }

    #[test]
    fn failures_without_a_log_say_why() {
        fake::set(|_| Err(libc::EPERM));
        let insns = [Insn::exit()];
        let err = load_program(&spec(&insns)).unwrap_err();
        fake::clear();
        assert_eq!(
            err.to_string(),
            "cannot load probe timer.ms(100) (program `timer_1`): bpf(BPF_PROG_LOAD) failed: \
             EPERM (Operation not permitted) — run as root or with CAP_BPF and CAP_PERFMON"
        );
    }

    #[test]
    fn line_info_goes_with_the_load_and_is_dropped_when_refused() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        fake::set(move |call| match call {
            Call::BtfLoad { btf, .. } => {
                assert_eq!(&btf[..2], &[0x9f, 0xeb]);
                Ok(9)
            }
            Call::ProgLoad(p) => {
                s.borrow_mut()
                    .push((p.btf.is_some(), p.func_info.len(), p.line_info.len()));
                if p.btf.is_some() {
                    Err(libc::EINVAL)
                } else {
                    Ok(5)
                }
            }
            _ => Err(libc::ENOSYS),
        });
        let insns = [Insn::mov64_imm(0, 0), Insn::exit()];
        let lines = [stapc_bpf::LineEntry {
            insn: 0,
            line: 1,
            col: 1,
        }];
        let mut spec = spec(&insns);
        spec.lines = Some(LineTable {
            file: "t.stp",
            source: None,
            lines: &lines,
        });
        assert!(load_program(&spec).is_ok());
        fake::clear();
        // Quiet load and logged retry with BTF, then without.
        assert_eq!(
            *seen.borrow(),
            vec![(true, 8, 16), (true, 8, 16), (false, 0, 0)]
        );
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let log = "a\n\nb\nc\nd\n";
        assert_eq!(LoadError::log_tail(log, 2), vec!["c", "d"]);
        assert_eq!(LoadError::log_tail(log, 10), vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn eagain_is_retried() {
        let n = Rc::new(RefCell::new(0));
        let c = n.clone();
        fake::set(move |_| {
            *c.borrow_mut() += 1;
            if *c.borrow() < 3 {
                Err(libc::EAGAIN)
            } else {
                Ok(5)
            }
        });
        let insns = [Insn::exit()];
        assert!(load_program(&spec(&insns)).is_ok());
        fake::clear();
        assert_eq!(*n.borrow(), 3);
    }

    #[test]
    fn program_ids_are_walked_in_order() {
        fake::set(|call| match call {
            Call::ProgGetNextId { start_id, next_id } => {
                if *start_id >= 30 {
                    return Err(libc::ENOENT);
                }
                *next_id = *start_id + 10;
                Ok(0)
            }
            _ => Err(libc::EINVAL),
        });
        assert_eq!(loaded_program_ids(), Ok(vec![10, 20, 30]));
        fake::clear();
    }
}
