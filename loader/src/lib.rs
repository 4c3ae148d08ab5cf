//! stapc loader: creates maps, loads programs and attaches them through raw
//! syscalls (`sys` is the project's one unsafe-code site).
//!
//! `load(&Object)` creates every map (writing its `init` entries) and loads
//! every kernel program with map references patched to fds; `attach` hooks
//! the programs to their probe points; `ringbuf`/`perfbuf` read the records
//! they send. Everything is owned by fds: dropping a `Loaded` or an
//! `Attachment` (on exit, Ctrl-C unwinding or panic) leaves nothing behind.
//!
//! `runtime::run(&Object, &RunOptions, out, err) -> Result<i32, RuntimeError>`
//! is the whole of `stapc SCRIPT` after compilation: load, `begin` on the
//! simulator against the kernel's maps (`kmaps::KernelMaps`), attach, print
//! records until `exit()`, an error, SIGINT/SIGTERM or the end of the `-c`
//! command, detach, `end` (or `error`), and the script's exit status.
//!
//! ```no_run
//! # fn run(obj: &stapc_bpf::Object) -> Result<(), stapc_loader::RuntimeError> {
//! let opts = stapc_loader::RunOptions {
//!     target_pid: None,                               // -x PID
//!     command: Some(vec!["ls".into(), "-l".into()]),  // -c 'ls -l', split into words
//!     verbose: 0,                                     // -v
//! };
//! let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
//! let status = stapc_loader::run(obj, &opts, &mut out, &mut err)?;
//! std::process::exit(status);
//! # }
//! ```
//!
//! The lower-level pieces, as the runtime uses them:
//!
//! ```no_run
//! # fn run(obj: &stapc_bpf::Object) -> Result<(), Box<dyn std::error::Error>> {
//! use stapc_loader::ringbuf::OutputReader;
//! stapc_loader::can_load_bpf()?; // "bpf(BPF_PROG_LOAD) failed: EPERM ... — run as root ..."
//! let loaded = stapc_loader::load(obj)?; // maps created and initialised, programs verified
//! let output = loaded.output_map().ok_or("no output map")?;
//! let mut reader = OutputReader::open(output, 64)?; // before attaching: no record is lost
//! let attachments = stapc_loader::attach_all(&loaded)?;
//! while !loaded.exit_requested()? {
//!     reader.wait(100)?;
//!     reader.read(|record| { /* {kind: u32, id: u32, args...}: format it */ });
//! }
//! drop(attachments); // detach, then drain what is left
//! reader.read(|record| { /* ... */ });
//! # Ok(())
//! # }
//! ```
#![deny(unsafe_code)]

pub mod attach;
pub mod btf;
pub mod errno;
pub mod kmaps;
pub mod maps;
pub mod perfbuf;
pub mod prog;
pub mod ringbuf;
pub mod runtime;
// Private: its calls trust their buffer sizes, which only this crate's
// wrappers (sized from the kernel objects they created) guarantee.
#[allow(unsafe_code)]
mod sys;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use stapc_bpf::object::control;
use stapc_bpf::{Insn, Object, ProbeKind, ProgramType};

pub use attach::{attach, attach_all, AttachError, AttachFailure, Attachment};
pub use maps::{Map, MapError};
pub use perfbuf::PerfBufReader;
pub use prog::{
    load_program, load_program_with_stats, loaded_program_ids, patch_map_fds, prog_info,
    prog_info_by_id, test_run, test_run_repeat, test_run_syscall, verification_time_usec,
    LoadError, ProgInfo, ProgramSpec, TestRunResult,
};
pub use ringbuf::RingBufReader;
pub use runtime::{run, RunOptions, RuntimeError, StopReason};
pub use sys::SysError;

/// A loaded kernel program of an object.
#[derive(Debug)]
pub struct LoadedProgram {
    name: String,
    point: String,
    kind: ProbeKind,
    fd: OwnedFd,
}

impl LoadedProgram {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The probe point as the script wrote it.
    pub fn point(&self) -> &str {
        &self.point
    }

    pub fn kind(&self) -> &ProbeKind {
        &self.kind
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// An object in the kernel: its maps (in `Object::maps` order) and its
/// kernel programs (userspace probes are not loaded; they run on the
/// simulator against these maps).
#[derive(Debug)]
pub struct Loaded {
    // Programs first: they are closed before the maps they reference.
    programs: Vec<LoadedProgram>,
    maps: Vec<Map>,
    control_map: u32,
    output_map: u32,
}

impl Loaded {
    /// The fd of map `index` (the index `lddw` carries in the object).
    pub fn map_fd(&self, index: u32) -> Option<BorrowedFd<'_>> {
        self.map(index).map(Map::fd)
    }

    pub fn map(&self, index: u32) -> Option<&Map> {
        self.maps.get(index as usize)
    }

    pub fn map_by_name(&self, name: &str) -> Option<&Map> {
        self.maps.iter().find(|m| m.name() == name)
    }

    pub fn maps(&self) -> &[Map] {
        &self.maps
    }

    /// The fd of the program with symbol name `name`.
    pub fn program_fd(&self, name: &str) -> Option<BorrowedFd<'_>> {
        self.program(name).map(LoadedProgram::fd)
    }

    pub fn program(&self, name: &str) -> Option<&LoadedProgram> {
        self.programs.iter().find(|p| p.name == name)
    }

    pub fn programs(&self) -> &[LoadedProgram] {
        &self.programs
    }

    pub fn control_map(&self) -> Option<&Map> {
        self.map(self.control_map)
    }

    pub fn output_map(&self) -> Option<&Map> {
        self.map(self.output_map)
    }

    fn control_u64(&self, offset: i16) -> Result<u64, MapError> {
        let Some(map) = self.control_map() else {
            return Ok(0);
        };
        let value = map.lookup(&0u32.to_le_bytes())?.unwrap_or_default();
        let o = offset as usize;
        Ok(value.get(o..o + 8).map_or(0, |b| {
            u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        }))
    }

    /// Whether a program (or userspace) asked the session to stop.
    pub fn exit_requested(&self) -> Result<bool, MapError> {
        Ok(self.control_u64(control::EXIT_FLAG)? != 0)
    }

    /// Runtime errors the kernel programs counted.
    pub fn error_count(&self) -> Result<u64, MapError> {
        self.control_u64(control::ERROR_COUNT)
    }

    /// Set the exit flag, so every kernel program returns at once from now on
    /// (what userspace does on Ctrl-C, before running `end` probes).
    pub fn request_exit(&self) -> Result<(), MapError> {
        let Some(map) = self.control_map() else {
            return Ok(());
        };
        let key = 0u32.to_le_bytes();
        let mut value = map
            .lookup(&key)?
            .unwrap_or_else(|| vec![0; map.value_size() as usize]);
        let o = control::EXIT_FLAG as usize;
        if let Some(flag) = value.get_mut(o..o + 8) {
            flag.copy_from_slice(&1u64.to_le_bytes());
        }
        map.update(&key, &value, maps::BPF_ANY)
    }
}

/// Create the maps of `obj`, write their initial entries, and load each of
/// its kernel programs (userspace `begin`/`end`/`error` probes are skipped).
pub fn load(obj: &Object) -> Result<Loaded, LoadError> {
    let maps = obj
        .maps
        .iter()
        .map(Map::create_and_init)
        .collect::<Result<Vec<_>, MapError>>()?;
    let fds: Vec<RawFd> = maps.iter().map(|m| m.fd().as_raw_fd()).collect();
    // Quoted in the kernel's log next to the instructions, when readable.
    let source = std::fs::read_to_string(&obj.source_name).ok();
    let mut programs = Vec::new();
    for p in obj.programs.iter().filter(|p| !p.kind.is_userspace()) {
        let insns = patch_map_fds(&p.name, &p.insns, &fds)?;
        let fd = load_program(&ProgramSpec {
            name: &p.name,
            point: &p.point,
            prog_type: p.kind.program_type(),
            expected_attach_type: prog::expected_attach_type(&p.kind),
            insns: &insns,
            license: &obj.license,
            lines: Some(btf::LineTable {
                file: &obj.source_name,
                source: source.as_deref(),
                lines: &p.lines,
            }),
        })?;
        programs.push(LoadedProgram {
            name: p.name.clone(),
            point: p.point.clone(),
            kind: p.kind.clone(),
            fd,
        });
    }
    Ok(Loaded {
        programs,
        maps,
        control_map: obj.control_map,
        output_map: obj.output_map,
    })
}

/// Whether this process can load the BPF programs stapc needs, and if not,
/// why (e.g. "bpf(BPF_PROG_LOAD) failed: EPERM (Operation not permitted) —
/// run as root or with CAP_BPF and CAP_PERFMON"). Tries `r0 = 0; exit` as a
/// socket filter, then as a perf_event program (which needs CAP_PERFMON
/// even where unprivileged socket filters are allowed).
pub fn can_load_bpf() -> Result<(), String> {
    let insns = [Insn::mov64_imm(0, 0), Insn::exit()];
    for prog_type in [ProgramType::SocketFilter, ProgramType::PerfEvent] {
        let spec = ProgramSpec {
            name: "stapc_check",
            point: "(capability check)",
            prog_type,
            expected_attach_type: 0,
            insns: &insns,
            license: "GPL",
            lines: None,
        };
        match load_program(&spec) {
            Ok(_) => {}
            Err(LoadError::Rejected { source, .. }) => {
                let hint = match source.errno {
                    libc::EPERM | libc::EACCES => " — run as root or with CAP_BPF and CAP_PERFMON",
                    libc::ENOSYS => " — this kernel was built without CONFIG_BPF_SYSCALL",
                    _ => "",
                };
                return Err(format!("{source}{hint}"));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{fake, Call};
    use stapc_bpf::insn::{decode_all, BPF_PSEUDO_MAP_FD};
    use stapc_bpf::{MapDef, MapKind, Program};
    use std::cell::RefCell;
    use std::rc::Rc;

    fn map(name: &str, kind: MapKind, value_size: u32, init: Vec<(Vec<u8>, Vec<u8>)>) -> MapDef {
        MapDef {
            name: name.into(),
            kind,
            key_size: 4,
            value_size,
            max_entries: 1,
            init,
        }
    }

    fn object() -> Object {
        let mut body = vec![Insn::mov64_reg(6, 1)];
        body.extend(Insn::ld_map(1, 1));
        body.extend(Insn::ld_map(2, 0));
        body.extend([Insn::mov64_imm(0, 0), Insn::exit()]);
        let prog = |name: &str, kind: ProbeKind| Program {
            fields: Vec::new(),
            name: name.into(),
            kind,
            point: name.into(),
            insns: body.clone(),
            lines: vec![],
        };
        Object {
            source_name: "t.stp".into(),
            programs: vec![
                prog("begin_0", ProbeKind::Begin { priority: 0 }),
                prog(
                    "timer_1",
                    ProbeKind::Timer {
                        period_ns: 1_000_000,
                        profile: false,
                    },
                ),
                prog(
                    "tp_2",
                    ProbeKind::Tracepoint {
                        group: "syscalls".into(),
                        name: "sys_enter_getpid".into(),
                    },
                ),
            ],
            maps: vec![
                map(
                    "stapc_globals",
                    MapKind::Array,
                    8,
                    vec![(vec![0; 4], vec![9, 0, 0, 0, 0, 0, 0, 0])],
                ),
                map("stapc_control", MapKind::Array, 16, vec![]),
            ],
            formats: vec![],
            errors: vec![],
            max_string_len: 64,
            control_map: 1,
            output_map: 1,
            license: "GPL".into(),
            ..Default::default()
        }
    }

    #[test]
    fn load_creates_maps_inits_them_and_patches_programs() {
        let log = Rc::new(RefCell::new(Vec::<String>::new()));
        let l = log.clone();
        fake::set(move |call| {
            let entry = match call {
                Call::MapCreate(a) => format!("create type={} value={}", a.map_type, a.value_size),
                Call::MapUpdateElem { map, value, .. } => {
                    format!("update fd={} value={value:?}", map.as_raw_fd())
                }
                Call::ProgLoad(p) => {
                    let insns = decode_all(p.insns).unwrap();
                    let maps: Vec<i32> = insns
                        .iter()
                        .filter(|i| i.is_lddw() && i.src == BPF_PSEUDO_MAP_FD)
                        .map(|i| i.imm)
                        .collect();
                    format!(
                        "load type={} license={:?} maps={maps:?}",
                        p.prog_type, p.license
                    )
                }
                _ => return Err(libc::EINVAL),
            };
            l.borrow_mut().push(entry);
            Ok(0)
        });
        let loaded = load(&object()).unwrap();
        fake::clear();
        let g = loaded.map_fd(0).unwrap().as_raw_fd();
        let c = loaded.map_fd(1).unwrap().as_raw_fd();
        assert_eq!(
            *log.borrow(),
            vec![
                "create type=2 value=8".to_string(),
                format!("update fd={g} value=[9, 0, 0, 0, 0, 0, 0, 0]"),
                "create type=2 value=16".to_string(),
                format!("load type=7 license=\"GPL\" maps=[{c}, {g}]"),
                format!("load type=5 license=\"GPL\" maps=[{c}, {g}]"),
            ]
        );
        assert!(loaded.program_fd("begin_0").is_none());
        assert!(loaded.program_fd("timer_1").is_some());
        assert_eq!(loaded.programs().len(), 2);
        assert!(loaded.map_fd(2).is_none());
        assert_eq!(loaded.control_map().unwrap().name(), "stapc_control");
    }

    #[test]
    fn a_failing_map_stops_the_load_and_names_the_map() {
        fake::set(|call| match call {
            Call::MapCreate(a) if a.value_size == 16 => Err(libc::EPERM),
            _ => Ok(0),
        });
        let err = load(&object()).unwrap_err();
        fake::clear();
        assert_eq!(
            err.to_string(),
            "cannot create maps: map `stapc_control`: bpf(BPF_MAP_CREATE) failed: EPERM (Operation not permitted)"
        );
    }

    #[test]
    fn exit_flag_round_trip() {
        let stored = Rc::new(RefCell::new(vec![0u8; 16]));
        let s = stored.clone();
        fake::set(move |call| match call {
            Call::MapLookupElem { value, .. } => {
                value.copy_from_slice(&s.borrow());
                Ok(0)
            }
            Call::MapUpdateElem { value, .. } if value.len() == 16 => {
                *s.borrow_mut() = value.to_vec();
                Ok(0)
            }
            _ => Ok(0),
        });
        let loaded = load(&object()).unwrap();
        assert!(!loaded.exit_requested().unwrap());
        loaded.request_exit().unwrap();
        assert!(loaded.exit_requested().unwrap());
        stored.borrow_mut()[8] = 3;
        assert_eq!(loaded.error_count().unwrap(), 3);
        fake::clear();
    }

    #[test]
    fn can_load_bpf_explains_a_refusal() {
        fake::set(|_| Err(libc::EPERM));
        let why = can_load_bpf().unwrap_err();
        fake::clear();
        assert_eq!(
            why,
            "bpf(BPF_PROG_LOAD) failed: EPERM (Operation not permitted) — run as root or with CAP_BPF and CAP_PERFMON"
        );
    }
}
