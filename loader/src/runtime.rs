//! The kernel runtime of `stapc SCRIPT` (pass 5): load an object, run its
//! `begin` probes, attach its kernel probes, print what they send, and on
//! `exit()`, an uncaught error, Ctrl-C, SIGTERM or the end of the `-c`
//! command detach them, run `end` (or `error`) and return the script's exit
//! status, as `stap` does.
//!
//! `begin`/`end`/`error` run on the simulator ([`UserspaceRunner`]) against
//! the kernel's own maps ([`KernelMaps`]), so they see what the kernel
//! programs counted; records from both sides are printed by the simulator's
//! `handle_record`, so output is byte for byte what `--sim` prints for the
//! same events. Every kernel object (map, program, perf event) is owned by
//! a file descriptor: returning, an error, a panic or a signal that kills
//! the process all leave nothing loaded.

use std::ffi::CString;
use std::fmt;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use stapc_bpf::object::control;
use stapc_bpf::{MapKind, Object};
use stapc_sim::machine::EventContext;
use stapc_sim::{SessionOptions, SimError, UserspaceRunner};

use crate::attach::{attach_all, AttachError};
use crate::kmaps::KernelMaps;
use crate::maps::MapError;
use crate::prog::LoadError;
use crate::ringbuf::{OutputError, OutputReader};
use crate::sys::{self, Call, GatedChild, StopSignals, SysError};
use crate::Loaded;

/// Data pages per CPU of a perf event array's rings (256 KiB with 4 KiB pages).
pub const PERF_PAGES_PER_CPU: usize = 64;
/// Longest wait between checks of the exit flag (and, on kernels without
/// pidfds, of the `-c` command).
pub const POLL_INTERVAL_MS: i32 = 100;
/// How long records of programs still running at detach time may take.
const DRAIN_GRACE_MS: i32 = 10;
/// How long the `-c` command has to exit after SIGTERM before SIGKILL.
const CHILD_GRACE: Duration = Duration::from_secs(1);

/// How to run a script on the kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// `-x PID`: what `target()` returns (ignored when `command` is given).
    pub target_pid: Option<i64>,
    /// `-c CMD`, as an argument vector: started (program looked up in
    /// `$PATH` unless it contains a `/`) once every probe is attached, with
    /// `target()` = its pid; the session ends when it exits.
    pub command: Option<Vec<String>>,
    /// `-v`: at 1 and above, "Pass 5: …" lines with load and attach timings
    /// on `err`.
    pub verbose: u8,
}

/// Why a script could not be run on the kernel (a script that fails at run
/// time is an exit status of 1 and a message on `err`, not an error).
#[derive(Debug)]
pub enum RuntimeError {
    /// The object breaks the runtime conventions of runtime.md.
    BadObject(String),
    /// A map could not be created or a program was rejected.
    Load(LoadError),
    /// A probe could not be attached; nothing stays attached.
    Attach(AttachError),
    /// The output buffer could not be opened.
    Output(OutputError),
    /// The control map could not be read or written.
    Map(MapError),
    /// The simulator could not run the userspace probes (or write output).
    Session(SimError),
    /// SIGINT/SIGTERM could not be caught, or a poll/wait failed.
    Sys(SysError),
    /// The `-c` command could not be started.
    Command {
        command: String,
        reason: String,
    },
    Io(std::io::Error),
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::BadObject(m) => write!(f, "invalid object: {m}"),
            RuntimeError::Load(e) => write!(f, "{e}"),
            RuntimeError::Attach(e) => write!(f, "{e}"),
            RuntimeError::Output(e) => write!(f, "{e}"),
            RuntimeError::Map(e) => write!(f, "{e}"),
            RuntimeError::Session(e) => write!(f, "{e}"),
            RuntimeError::Sys(e) => write!(f, "{e}"),
            RuntimeError::Command { command, reason } => {
                write!(f, "cannot run command `{command}`: {reason}")
            }
            RuntimeError::Io(e) => write!(f, "output: {e}"),
        }
    }
}

impl std::error::Error for RuntimeError {}

impl From<LoadError> for RuntimeError {
    fn from(e: LoadError) -> Self {
        RuntimeError::Load(e)
    }
}

impl From<AttachError> for RuntimeError {
    fn from(e: AttachError) -> Self {
        RuntimeError::Attach(e)
    }
}

impl From<OutputError> for RuntimeError {
    fn from(e: OutputError) -> Self {
        RuntimeError::Output(e)
    }
}

impl From<MapError> for RuntimeError {
    fn from(e: MapError) -> Self {
        RuntimeError::Map(e)
    }
}

impl From<SimError> for RuntimeError {
    fn from(e: SimError) -> Self {
        RuntimeError::Session(e)
    }
}

impl From<SysError> for RuntimeError {
    fn from(e: SysError) -> Self {
        RuntimeError::Sys(e)
    }
}

impl From<std::io::Error> for RuntimeError {
    fn from(e: std::io::Error) -> Self {
        RuntimeError::Io(e)
    }
}

/// Why the polling loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `begin` stopped the session before any kernel probe was attached.
    Begin,
    /// An EXIT or ERROR record, or the exit flag.
    Script,
    /// SIGINT or SIGTERM (the signal number).
    Signal(i32),
    /// The `-c` command exited.
    Command,
}

/// Check the maps runtime.md requires before anything is created.
fn check_object(obj: &Object) -> Result<(), RuntimeError> {
    match obj.maps.get(obj.control_map as usize) {
        Some(m)
            if m.kind == MapKind::Array
                && m.key_size == 4
                && m.value_size >= control::MIN_VALUE_SIZE => {}
        _ => {
            return Err(RuntimeError::BadObject(format!(
                "control map #{} is not an array with a {}-byte value",
                obj.control_map,
                control::MIN_VALUE_SIZE
            )))
        }
    }
    match obj.maps.get(obj.output_map as usize).map(|m| m.kind) {
        Some(MapKind::RingBuf | MapKind::PerfEventArray) => Ok(()),
        _ => Err(RuntimeError::BadObject(format!(
            "output map #{} is not a ring buffer or perf event array",
            obj.output_map
        ))),
    }
}

/// Find the program of a `-c` command: as given when it contains a `/`,
/// else the first executable file of that name on `$PATH`.
pub fn resolve_command(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs)
        .map(|d| d.join(program))
        .find(|p| executable(p))
}

fn spawn_command(argv: &[String]) -> Result<GatedChild, RuntimeError> {
    let shown = argv.join(" ");
    let fail = |reason: String| RuntimeError::Command {
        command: shown.clone(),
        reason,
    };
    let Some(program) = argv.first() else {
        return Err(fail("the command is empty".into()));
    };
    let path = resolve_command(program).ok_or_else(|| {
        fail(if program.contains('/') {
            "no such executable file".into()
        } else {
            "not found in $PATH".into()
        })
    })?;
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| fail("the path contains a NUL byte".into()))?;
    let cargs = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| fail("an argument contains a NUL byte".into()))?;
    sys::spawn_gated(&cpath, &cargs).map_err(|e| fail(e.to_string()))
}

/// The task userspace probes run as: this process, now.
fn userspace_event() -> EventContext {
    let (pid, tid, uid, gid) = sys::current_ids();
    let comm = std::fs::read_to_string("/proc/self/comm")
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "stapc".into());
    EventContext {
        pid,
        tid,
        uid,
        gid,
        comm,
        cpu: 0,
        time_ns: sys::monotonic_ns(),
        ..EventContext::default()
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Every record the reader has now, in order (per CPU for perf buffers).
fn read_batch(reader: &mut OutputReader) -> Vec<Vec<u8>> {
    let mut batch = Vec::new();
    reader.read(|r| batch.push(r.to_vec()));
    batch
}

/// Wait until records, a signal or the child's exit may be ready.
fn wait(
    reader: &OutputReader,
    signals: &StopSignals,
    child: Option<&GatedChild>,
    timeout_ms: i32,
) -> Result<(), RuntimeError> {
    let mut fds = reader.fds();
    fds.push(signals.fd());
    if let Some(fd) = child.and_then(GatedChild::exit_fd) {
        fds.push(fd);
    }
    match sys::syscall(&mut Call::Poll {
        fds: &fds,
        timeout_ms,
    }) {
        Ok(_) => Ok(()),
        // A signal arrived: the loop looks at the signal pipe next.
        Err(e) if e.errno == libc::EINTR => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The control map's u64 at `offset`, when the value has one there.
fn control_word(loaded: &Loaded, offset: i16) -> Result<u64, MapError> {
    let Some(map) = loaded.control_map() else {
        return Ok(0);
    };
    let o = offset as usize;
    let value = map.lookup(&0u32.to_le_bytes())?.unwrap_or_default();
    Ok(value
        .get(o..o + 8)
        .and_then(|w| w.try_into().ok())
        .map_or(0, u64::from_le_bytes))
}

/// Stop the `-c` command if it is still running: SIGTERM, then SIGKILL
/// after [`CHILD_GRACE`]; it is reaped either way.
fn stop_child(child: &mut GatedChild) -> Result<(), RuntimeError> {
    if child.try_wait()?.is_some() {
        return Ok(());
    }
    child.kill(libc::SIGTERM)?;
    let deadline = Instant::now() + CHILD_GRACE;
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill(libc::SIGKILL)?;
    child.wait()?;
    Ok(())
}

/// Run `obj` on the kernel until it stops; returns the script's exit status
/// (0, or 1 after an uncaught error or a userspace program fault). Script
/// output goes to `out`, runtime errors, warnings (lost records) and `-v`
/// lines to `err`.
pub fn run(
    obj: &Object,
    opts: &RunOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, RuntimeError> {
    run_with_reason(obj, opts, out, err).map(|(status, _)| status)
}

/// [`run`], also saying why the session stopped.
pub fn run_with_reason(
    obj: &Object,
    opts: &RunOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(i32, StopReason), RuntimeError> {
    let started = Instant::now();
    let verbose = opts.verbose > 0;
    check_object(obj)?;
    if verbose {
        writeln!(err, "Pass 5: starting run.")?;
    }
    // Forked first, so the child holds none of the descriptors made below
    // (they are close-on-exec anyway); it waits to exec until released.
    let mut child = match &opts.command {
        Some(argv) => Some(spawn_command(argv)?),
        None => None,
    };
    let target = match &child {
        Some(c) => Some(i64::from(c.pid())),
        None => opts.target_pid,
    };

    let t = Instant::now();
    let loaded = Rc::new(crate::load(obj)?);
    if verbose {
        writeln!(
            err,
            "Pass 5: loaded {} kernel programs and {} maps in {} ms.",
            loaded.programs().len(),
            loaded.maps().len(),
            ms(t.elapsed())
        )?;
    }
    let output = loaded
        .output_map()
        .ok_or_else(|| RuntimeError::BadObject("no output map".into()))?;
    // Opened before any probe is attached, so no record is missed.
    let mut reader = OutputReader::open(output, PERF_PAGES_PER_CPU)?;
    let signals = sys::catch_stop_signals()?;

    let store = KernelMaps::new(Rc::clone(&loaded), obj.maps.clone());
    let session = SessionOptions {
        target_pid: target,
        ..SessionOptions::default()
    };
    let mut runner = UserspaceRunner::new(obj, Box::new(store), &session, out, err)?;
    if let Some(pid) = target {
        runner.set_target_pid(pid)?;
    }
    // gettimeofday_*(): the wall clock is the monotonic clock (what
    // ktime_get_ns and the userspace event time read) plus this.
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    runner.set_realtime_offset(wall - sys::monotonic_ns() as i64)?;
    runner.set_event(userspace_event());
    let mut reason = StopReason::Begin;
    let stopping = runner.run_begin()?;
    let interrupted = signals.caught();
    if let Some(sig) = interrupted {
        reason = StopReason::Signal(sig);
    }
    if !stopping && interrupted.is_none() {
        let t = Instant::now();
        let attachments = attach_all(&loaded)?;
        if verbose {
            let events: usize = attachments.iter().map(|a| a.events()).sum();
            writeln!(
                runner.err(),
                "Pass 5: attached {} probes ({events} perf events) in {} ms.",
                attachments.len(),
                ms(t.elapsed())
            )?;
        }
        if let Some(c) = child.as_mut() {
            c.release().map_err(|e| RuntimeError::Command {
                command: opts.command.as_deref().unwrap_or_default().join(" "),
                reason: e.to_string(),
            })?;
        }
        // Timers stapc runs itself, each due a period after the last run
        // (a late run does not bunch up the runs it missed).
        let timers: Vec<(usize, Duration)> = runner
            .user_timers()
            .into_iter()
            .map(|(i, ns)| (i, Duration::from_nanos(ns.max(1_000))))
            .collect();
        let mut due: Vec<Instant> = timers.iter().map(|&(_, p)| Instant::now() + p).collect();
        reason = loop {
            let now = Instant::now();
            let timeout = due
                .iter()
                .map(|d| d.saturating_duration_since(now).as_millis() as i32)
                .fold(POLL_INTERVAL_MS, i32::min);
            wait(&reader, &signals, child.as_ref(), timeout)?;
            let batch = read_batch(&mut reader);
            if !batch.is_empty() && runner.records(&batch)? {
                break StopReason::Script;
            }
            let mut stop = false;
            for (k, &(i, period)) in timers.iter().enumerate() {
                let now = Instant::now();
                if stop || now < due[k] {
                    continue;
                }
                runner.set_event(userspace_event());
                stop = runner.run_user_timer(i)?;
                let next = due[k] + period;
                due[k] = if next <= now { now + period } else { next };
            }
            if stop {
                break StopReason::Script;
            }
            if let Some(sig) = signals.caught() {
                break StopReason::Signal(sig);
            }
            if let Some(c) = child.as_mut() {
                if c.try_wait()?.is_some() {
                    break StopReason::Command;
                }
            }
            if loaded.exit_requested()? {
                break StopReason::Script;
            }
        };
        // Programs still running return at once; then detach, and print
        // what was sent before that.
        loaded.request_exit()?;
        drop(attachments);
        let mut batch = read_batch(&mut reader);
        wait(&reader, &signals, None, DRAIN_GRACE_MS)?;
        batch.extend(read_batch(&mut reader));
        if !batch.is_empty() {
            runner.records(&batch)?;
        }
        runner.check_error_count()?;
    }
    if let Some(c) = child.as_mut() {
        stop_child(c)?;
    }
    // A second Ctrl-C during `end` ends the process (nothing is attached).
    drop(signals);

    runner.run_end()?;
    // Never silent: perf buffers count what they lost, kernel programs count
    // what a full ring buffer refused.
    let lost = reader.lost() + control_word(&loaded, control::OUTPUT_DROPS)?;
    if lost > 0 {
        writeln!(
            runner.err(),
            "WARNING: {lost} output records were dropped (buffer full)"
        )?;
    }
    let status = runner.status();
    if verbose {
        writeln!(
            runner.err(),
            "Pass 5: run completed in {} ms.",
            ms(started.elapsed())
        )?;
    }
    runner.out().flush()?;
    Ok((status, reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{fake, Call};
    use stapc_bpf::helpers::{MAP_LOOKUP_ELEM, RINGBUF_OUTPUT};
    use stapc_bpf::insn::*;
    use stapc_bpf::object::record;
    use stapc_bpf::{ArgKind, Format, Insn, MapDef, ProbeKind, Program};
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::os::fd::AsRawFd;

    /// A stateful fake kernel: map values by (fd, key) (absent values read
    /// as zeros, as array elements do), a log of the attach calls, and a
    /// hook run at every poll (what the kernel programs would do meanwhile).
    #[derive(Default)]
    struct Kernel {
        values: HashMap<(i32, Vec<u8>), Vec<u8>>,
        log: Vec<String>,
        polls: u32,
        fail_attach: bool,
    }

    type Shared = std::rc::Rc<RefCell<Kernel>>;

    /// The control value (the only 32-byte one in these objects).
    fn control_of(k: &mut Kernel) -> Option<&mut Vec<u8>> {
        k.values
            .values_mut()
            .find(|v| v.len() == control::VALUE_SIZE as usize)
    }

    fn install(on_poll: impl Fn(&mut Kernel) + 'static) -> Shared {
        let k: Shared = Default::default();
        let kk = k.clone();
        fake::set(move |call| {
            let mut k = kk.borrow_mut();
            match call {
                Call::MapLookupElem { map, key, value } => {
                    let v = k
                        .values
                        .entry((map.as_raw_fd(), key.to_vec()))
                        .or_insert_with(|| vec![0; value.len()]);
                    if v.len() == value.len() {
                        value.copy_from_slice(v);
                    }
                }
                Call::MapUpdateElem {
                    map, key, value, ..
                } => {
                    k.values
                        .insert((map.as_raw_fd(), key.to_vec()), value.to_vec());
                }
                Call::PerfEventOpen { attr, .. } => {
                    if k.fail_attach {
                        return Err(libc::ENOENT);
                    }
                    k.log.push(format!("perf_event_open type={}", attr.type_));
                }
                Call::PerfEventIoctl { .. } => k.log.push(call.name().to_string()),
                Call::Poll { .. } => {
                    k.polls += 1;
                    on_poll(&mut k);
                }
                _ => {}
            }
            Ok(0)
        });
        k
    }

    /// begin prints, a timer does nothing, end prints "end"; `begin_exit`:
    /// begin also calls exit().
    fn object(begin_exit: bool) -> Object {
        // A userspace program: send record {kind, id} (then exit() when asked).
        let userspace = |kind: u32, id: i32, exit: bool| {
            let mut v = vec![Insn::st(BPF_W, 10, -4, 0)];
            v.extend(Insn::ld_map(1, 2));
            v.extend([
                Insn::mov64_reg(2, 10),
                Insn::alu64_imm(BPF_ADD, 2, -4),
                Insn::call(MAP_LOOKUP_ELEM),
            ]);
            let null_check = v.len();
            v.push(Insn::jmp_imm(BPF_JEQ, 0, 0, 0));
            v.push(Insn::mov64_reg(9, 0));
            let send = |v: &mut Vec<Insn>, kind: u32, id: i32| {
                v.extend([
                    Insn::st(BPF_W, 9, 0, kind as i32),
                    Insn::st(BPF_W, 9, 4, id),
                ]);
                v.extend(Insn::ld_map(1, 3));
                v.extend([
                    Insn::mov64_reg(2, 9),
                    Insn::mov64_imm(3, 8),
                    Insn::mov64_imm(4, 0),
                    Insn::call(RINGBUF_OUTPUT),
                ]);
            };
            send(&mut v, kind, id);
            if exit {
                send(&mut v, record::EXIT, 0);
            }
            v[null_check].off = (v.len() - null_check - 1) as i16;
            v.extend([Insn::mov64_imm(0, 0), Insn::exit()]);
            v
        };
        let map = |name: &str, kind: MapKind, key: u32, value: u32, max: u32| MapDef {
            name: name.into(),
            kind,
            key_size: key,
            value_size: value,
            max_entries: max,
            init: vec![],
        };
        let prog = |name: &str, kind: ProbeKind, insns: Vec<Insn>| Program {
            fields: Vec::new(),
            name: name.into(),
            point: name.into(),
            kind,
            insns,
            lines: vec![],
        };
        Object {
            source_name: "t.stp".into(),
            programs: vec![
                prog(
                    "begin",
                    ProbeKind::Begin { priority: 0 },
                    userspace(record::PRINTF, 0, begin_exit),
                ),
                prog(
                    "timer.ms(1)",
                    ProbeKind::Timer {
                        period_ns: 1_000_000,
                        profile: false,
                    },
                    vec![Insn::mov64_imm(0, 0), Insn::exit()],
                ),
                prog(
                    "end",
                    ProbeKind::End { priority: 0 },
                    userspace(record::PRINTF, 1, false),
                ),
                prog(
                    "error",
                    ProbeKind::Error { priority: 0 },
                    userspace(record::PRINTF, 2, false),
                ),
            ],
            maps: vec![
                map("stapc_globals", MapKind::Array, 4, 8, 1),
                map("stapc_control", MapKind::Array, 4, control::VALUE_SIZE, 1),
                map("stapc_scratch", MapKind::PerCpuArray, 4, 64, 1),
                map("stapc_output", MapKind::RingBuf, 0, 0, 1 << 16),
            ],
            formats: ["begin\n", "end\n", "error probe\n"]
                .iter()
                .map(|t| Format {
                    text: t.to_string(),
                    args: Vec::<ArgKind>::new(),
                })
                .collect(),
            errors: vec![],
            max_string_len: 64,
            control_map: 1,
            output_map: 3,
            license: "GPL".into(),
            ..Default::default()
        }
    }

    fn go(
        obj: &Object,
        opts: &RunOptions,
    ) -> (Result<(i32, StopReason), RuntimeError>, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let r = run_with_reason(obj, opts, &mut out, &mut err);
        fake::clear();
        (
            r,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn exit_in_begin_attaches_nothing_and_runs_end() {
        let k = install(|_| {});
        let (r, out, err) = go(&object(true), &RunOptions::default());
        assert_eq!(r.unwrap(), (0, StopReason::Begin));
        assert_eq!((out.as_str(), err.as_str()), ("begin\nend\n", ""));
        assert!(k.borrow().log.is_empty(), "{:?}", k.borrow().log);
    }

    #[test]
    fn the_exit_flag_stops_polling_then_end_runs() {
        let k = install(|k| {
            if k.polls == 3 {
                if let Some(c) = control_of(k) {
                    c[0] = 1;
                }
            }
        });
        let (r, out, err) = go(&object(false), &RunOptions::default());
        assert_eq!(r.unwrap(), (0, StopReason::Script));
        assert_eq!((out.as_str(), err.as_str()), ("begin\nend\n", ""));
        let k = k.borrow();
        // Three polls in the loop, one while draining.
        assert_eq!(k.polls, 4);
        assert!(k.polls < 10, "the loop must stop at the flag");
        assert_eq!(
            k.log,
            [
                "perf_event_open type=1",
                "ioctl(PERF_EVENT_IOC_SET_BPF)",
                "ioctl(PERF_EVENT_IOC_ENABLE)"
            ]
        );
    }

    #[test]
    fn errors_counted_by_kernel_programs_run_the_error_probes() {
        install(|k| {
            if let Some(c) = control_of(k) {
                c[0] = 1;
                c[control::ERROR_COUNT as usize] = 1;
            }
        });
        let (r, out, _) = go(&object(false), &RunOptions::default());
        assert_eq!(r.unwrap(), (1, StopReason::Script));
        assert_eq!(out, "begin\nerror probe\n");
    }

    #[test]
    fn dropped_records_are_reported() {
        install(|k| {
            if let Some(c) = control_of(k) {
                c[0] = 1;
                c[control::OUTPUT_DROPS as usize] = 3;
            }
        });
        let (r, out, err) = go(&object(false), &RunOptions::default());
        assert_eq!(r.unwrap().0, 0);
        assert_eq!(out, "begin\nend\n");
        assert_eq!(
            err,
            "WARNING: 3 output records were dropped (buffer full)\n"
        );
    }

    #[test]
    fn the_target_pid_is_in_the_control_map_before_begin_runs() {
        let k = install(|_| {});
        let opts = RunOptions {
            target_pid: Some(4242),
            ..RunOptions::default()
        };
        let (r, _, _) = go(&object(true), &opts);
        assert_eq!(r.unwrap().0, 0);
        let mut k = k.borrow_mut();
        let c = control_of(&mut k).unwrap();
        let o = control::TARGET_PID as usize;
        assert_eq!(c[o..o + 8], 4242u64.to_le_bytes());
    }

    #[test]
    fn an_attach_failure_names_the_probe_and_skips_end() {
        let k = install(|_| {});
        k.borrow_mut().fail_attach = true;
        let (r, out, _) = go(&object(false), &RunOptions::default());
        let e = r.unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot attach probe timer.ms(1) (program `timer.ms(1)`): perf_event_open failed: ENOENT (No such file or directory)"
        );
        assert_eq!(out, "begin\n");
    }

    #[test]
    fn objects_without_runtime_maps_are_refused_before_loading() {
        let k = install(|_| {});
        let mut obj = object(false);
        obj.maps[3].kind = MapKind::Hash;
        let (r, _, _) = go(&obj, &RunOptions::default());
        assert_eq!(
            r.unwrap_err().to_string(),
            "invalid object: output map #3 is not a ring buffer or perf event array"
        );
        obj.control_map = 7;
        let (r, _, _) = go(&obj, &RunOptions::default());
        assert!(r.unwrap_err().to_string().contains("control map #7"));
        assert!(k.borrow().values.is_empty());
    }

    #[test]
    fn commands_are_found_on_the_path() {
        assert!(resolve_command("sh").is_some_and(|p| p.is_absolute()));
        assert_eq!(resolve_command("/bin/sh"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(resolve_command("stapc-no-such-command"), None);
        let plain = std::env::temp_dir().join(format!("stapc-plain-{}", std::process::id()));
        std::fs::write(&plain, "x").unwrap();
        assert_eq!(
            resolve_command(plain.to_str().unwrap()),
            None,
            "not executable"
        );
        std::fs::remove_file(&plain).unwrap();
        assert_eq!(resolve_command(""), None);
    }
}
