//! A whole compiled script on the simulator (`stapc --sim`), following the
//! event model of shared/conformance/README.md and the runtime conventions
//! (maps, records, control flag) of the object: `begin` programs by
//! priority, then synthetic kernel events in simulated-time order, then `end`
//! (or `error` after an uncaught error) programs; after every program run
//! the output map is drained and its records printed.
//!
//! `UserspaceRunner` is the same session without the simulated kernel
//! events, for the loader's runtime: it runs `begin`/`end`/`error` against
//! any `MapStore` (the kernel's maps) and prints the records the kernel's
//! programs send, so `stapc SCRIPT` prints exactly what `--sim` prints.

use crate::events::{self, SimEvent};
use crate::format;
use crate::machine::{Code, EventContext, ExecError, Machine, MachineOptions};
use crate::maps::{MapError, MapStore, SimMaps, BPF_ANY};
use bpf::object::{control, record};
use bpf::{MapKind, Object, ProbeKind, ProgramType};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::io::Write;

/// How often a kernel probe without a period of its own fires (1 ms).
pub const DEFAULT_EVENT_PERIOD_NS: u64 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// Simulated time after which no more events fire (`--sim-duration`).
    pub duration_ns: u64,
    /// `-x PID`: kernel probe events come from this process.
    pub target_pid: Option<i64>,
    /// Instructions one program run may execute.
    pub fuel: u64,
    /// Simulated CPUs (per-CPU maps get one copy each; `timer.profile` fires on each).
    pub cpus: u32,
    /// `--sim-events FILE` (see `events`): the probes these events name
    /// fire only at them instead of every 1 ms.
    pub events: Option<Vec<SimEvent>>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            duration_ns: 10_000_000_000,
            target_pid: None,
            fuel: 200_000_000,
            cpus: 1,
            events: None,
        }
    }
}

/// Why a session could not run at all (as opposed to a script that fails,
/// which is an exit status and a message on stderr).
#[derive(Debug)]
pub enum SimError {
    /// A map of the object cannot be created or initialised.
    Map {
        map: String,
        error: MapError,
    },
    /// The object breaks the runtime conventions (e.g. no usable output map).
    BadObject(String),
    /// An event of the events file names a probe the script does not have.
    UnknownProbe {
        line: usize,
        probe: String,
    },
    Io(std::io::Error),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Map { map, error } => write!(f, "map `{map}`: {error}"),
            SimError::BadObject(m) => write!(f, "invalid object: {m}"),
            SimError::UnknownProbe { line, probe } => write!(
                f,
                "events file line {line}: no probe `{probe}` in the script (give a probe point as pp() prints it, or a program name)"
            ),
            SimError::Io(e) => write!(f, "output: {e}"),
        }
    }
}

impl std::error::Error for SimError {}

impl From<std::io::Error> for SimError {
    fn from(e: std::io::Error) -> SimError {
        SimError::Io(e)
    }
}

/// Bytes of (zeroed) context a program of this type sees: x86-64 `pt_regs`
/// for kprobes, `bpf_perf_event_data` for perf events, a tracepoint record
/// large enough for every field, nothing for userspace programs.
fn context_size(t: ProgramType) -> usize {
    match t {
        ProgramType::Syscall => 0,
        ProgramType::Kprobe => 168,
        ProgramType::PerfEvent => 184,
        ProgramType::Tracepoint | ProgramType::RawTracepoint | ProgramType::SocketFilter => 512,
    }
}

/// What one output record asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordAction {
    /// PRINTF: its text was written to `out`.
    Printed,
    /// EXIT: the session is stopping.
    Exit,
    /// ERROR: the message was written to `err`; `error` probes, status 1.
    Error,
    /// A record that breaks the runtime conventions (reported on `err`).
    Malformed,
}

/// Handle one record from the output map as runtime.md says: PRINTF is
/// formatted with `obj.formats[id]` to `out`, ERROR prints
/// `ERROR: {message} {location}` to `err`. Shared by the simulator's
/// session and the loader's runtime (which drains the kernel's buffer).
///
/// HIST reads the statistic's map through `maps` (the simulator's, or the
/// kernel's through the loader), merges the CPUs and prints the histogram.
pub fn handle_record(
    obj: &Object,
    r: &[u8],
    maps: &mut dyn MapStore,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<RecordAction> {
    let header = record::HEADER_SIZE as usize;
    if r.len() < header {
        writeln!(
            err,
            "ERROR: simulator: output record of {} bytes has no header",
            r.len()
        )?;
        return Ok(RecordAction::Malformed);
    }
    let kind = u32::from_le_bytes([r[0], r[1], r[2], r[3]]);
    let id = u32::from_le_bytes([r[4], r[5], r[6], r[7]]);
    let body = &r[header..];
    match kind {
        record::PRINTF => {
            let Some(f) = obj.formats.get(id as usize) else {
                writeln!(
                    err,
                    "ERROR: simulator: printf record names format #{id}, which does not exist"
                )?;
                return Ok(RecordAction::Malformed);
            };
            match format::format_record(f, obj.max_string_len, body) {
                Ok(text) => {
                    out.write_all(&text)?;
                    Ok(RecordAction::Printed)
                }
                Err(e) => {
                    writeln!(err, "ERROR: simulator: printf record for {:?}: {e}", f.text)?;
                    Ok(RecordAction::Malformed)
                }
            }
        }
        record::EXIT => Ok(RecordAction::Exit),
        record::TEXT => {
            out.write_all(body)?;
            Ok(RecordAction::Printed)
        }
        // ---- statistics ----
        record::HIST => {
            let Some((hist, stat)) = obj
                .hists
                .get(id as usize)
                .and_then(|h| Some((h, obj.stats.get(h.stat as usize)?)))
            else {
                writeln!(
                    err,
                    "ERROR: simulator: histogram record names histogram #{id}, which does not exist"
                )?;
                return Ok(RecordAction::Malformed);
            };
            let merged = crate::stats::key_of(maps, stat, body)
                .ok_or(MapError::Invalid)
                .and_then(|key| crate::stats::read(maps, stat, &key));
            match merged {
                Ok(m) => {
                    out.write_all(crate::stats::hist_text(hist, stat, &m).as_bytes())?;
                    Ok(RecordAction::Printed)
                }
                Err(e) => {
                    writeln!(
                        err,
                        "ERROR: simulator: reading statistic `{}`: {e}",
                        stat.name
                    )?;
                    Ok(RecordAction::Malformed)
                }
            }
        }
        record::ERROR => {
            let Some(e) = obj.errors.get(id as usize) else {
                writeln!(err, "ERROR: runtime error #{id}")?;
                return Ok(RecordAction::Error);
            };
            // `error(msg)` sends its message as one string argument.
            let n = obj.max_string_len as usize;
            let message = if body.len() >= n && n > 0 {
                let s = &body[..n];
                let end = s.iter().position(|&c| c == 0).unwrap_or(n);
                String::from_utf8_lossy(&s[..end]).into_owned()
            } else {
                e.message.clone()
            };
            if e.location.is_empty() {
                writeln!(err, "ERROR: {message}")?;
            } else {
                writeln!(err, "ERROR: {message} {}", e.location)?;
            }
            Ok(RecordAction::Error)
        }
        _ => {
            writeln!(
                err,
                "ERROR: simulator: output record of unknown kind {kind}"
            )?;
            Ok(RecordAction::Malformed)
        }
    }
}

/// What the records of one drain said.
#[derive(Default)]
struct Drained {
    exit: bool,
    error: bool,
    /// A malformed record: the session cannot go on.
    broken: bool,
}

struct Session<'a> {
    obj: &'a Object,
    machine: Machine,
    codes: Vec<Code>,
    output: u32,
    control: u32,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    opts: SessionOptions,
    now: u64,
    /// The context userspace probes run in; `None`: the simulator's
    /// default task at the current simulated time.
    userspace_ctx: Option<EventContext>,
    errored: bool,
    faulted: bool,
}

/// Run `obj` to completion; returns the script's exit status (0, or 1 after
/// an uncaught error or an execution fault).
pub fn run(
    obj: &Object,
    opts: &SessionOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, SimError> {
    let store = SimMaps::new(&obj.maps, opts.cpus).map_err(|error| {
        let map = match &error {
            MapError::BadDef { map, .. } => obj.maps.get(*map as usize).map(|m| m.name.clone()),
            _ => None,
        };
        SimError::Map {
            map: map.unwrap_or_default(),
            error,
        }
    })?;
    let mut store: Box<dyn MapStore> = Box::new(store);
    for (i, m) in obj.maps.iter().enumerate() {
        for (k, v) in &m.init {
            store
                .update(i as u32, k, v, BPF_ANY, None)
                .map_err(|error| SimError::Map {
                    map: m.name.clone(),
                    error,
                })?;
        }
    }
    let mut s = Session::new(obj, store, opts.clone(), out, err)?;
    if let Some(pid) = opts.target_pid {
        write_control_word(obj, s.machine.store_mut(), control::TARGET_PID, pid)?;
    }
    s.run_all()?;
    let dropped = s.machine.store().dropped(s.output);
    if dropped > 0 {
        writeln!(
            s.err,
            "WARNING: {dropped} output records were dropped (buffer full)"
        )?;
    }
    s.out.flush()?;
    Ok(if s.errored || s.faulted { 1 } else { 0 })
}

/// Write the control value's i64 at `offset` (`control::TARGET_PID`, what
/// `target()` reads; `control::REALTIME_OFFSET`), when it has room for it
/// (older objects have not).
fn write_control_word(
    obj: &Object,
    store: &mut dyn MapStore,
    offset: i16,
    word: i64,
) -> Result<(), SimError> {
    let control = obj.control_map;
    let Some(m) = obj.maps.get(control as usize) else {
        return Ok(());
    };
    let o = offset as usize;
    if (m.value_size as usize) < o + 8 {
        return Ok(());
    }
    let key = 0u32.to_le_bytes();
    let map_err = |error| SimError::Map {
        map: m.name.clone(),
        error,
    };
    let mut value = store
        .lookup(control, &key, 0)
        .map_err(map_err)?
        .unwrap_or_else(|| vec![0; m.value_size as usize]);
    if let Some(w) = value.get_mut(o..o + 8) {
        w.copy_from_slice(&word.to_le_bytes());
    }
    store
        .update(control, &key, &value, BPF_ANY, None)
        .map_err(map_err)
}

impl<'a> Session<'a> {
    /// A session over `store`, whose maps already hold their `init` entries.
    fn new(
        obj: &'a Object,
        store: Box<dyn MapStore>,
        opts: SessionOptions,
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
    ) -> Result<Session<'a>, SimError> {
        let output = obj.output_map;
        match obj.maps.get(output as usize).map(|m| m.kind) {
            Some(MapKind::RingBuf | MapKind::PerfEventArray) => {}
            _ => {
                return Err(SimError::BadObject(format!(
                    "output map #{output} is not a ring buffer or perf event array"
                )))
            }
        }
        let control = obj.control_map;
        match obj.maps.get(control as usize) {
            Some(m)
                if m.kind == MapKind::Array
                    && m.key_size == 4
                    && m.value_size >= control::MIN_VALUE_SIZE => {}
            _ => {
                return Err(SimError::BadObject(format!(
                    "control map #{control} is not a 16-byte array"
                )))
            }
        }
        let machine_opts = MachineOptions {
            fuel: opts.fuel,
            ..MachineOptions::default()
        };
        Ok(Session {
            obj,
            machine: Machine::new(store, machine_opts)
                .with_formats(obj.formats.clone(), obj.max_string_len)
                .with_hists(obj.hists.clone(), obj.stats.clone()),
            codes: obj.programs.iter().map(|p| Code::new(&p.insns)).collect(),
            output,
            control,
            out,
            err,
            opts,
            now: 0,
            userspace_ctx: None,
            errored: false,
            faulted: false,
        })
    }

    /// Indexes of the programs of one userspace kind, by priority then source order.
    fn userspace(&self, want: fn(&ProbeKind) -> Option<i64>) -> Vec<usize> {
        let mut v: Vec<(i64, usize)> = self
            .obj
            .programs
            .iter()
            .enumerate()
            .filter_map(|(i, p)| want(&p.kind).map(|prio| (prio, i)))
            .collect();
        v.sort();
        v.into_iter().map(|(_, i)| i).collect()
    }

    fn run_all(&mut self) -> Result<(), SimError> {
        let stopping = self.run_begins()?;
        if self.faulted {
            return Ok(());
        }
        if !stopping && !self.exit_flag()? {
            self.run_events()?;
            if self.faulted {
                return Ok(());
            }
        }
        self.run_finals()
    }

    /// Run the `begin` programs by priority until one stops the session;
    /// returns whether it is stopping (exit, an uncaught error or a fault).
    fn run_begins(&mut self) -> Result<bool, SimError> {
        let begins = self.userspace(|k| match k {
            ProbeKind::Begin { priority } => Some(*priority),
            _ => None,
        });
        let mut stopping = false;
        for i in begins {
            if self.exit_flag()? {
                stopping = true;
                break;
            }
            stopping |= self.run_program(i, self.userspace_event())?;
            if self.faulted {
                return Ok(true);
            }
        }
        Ok(stopping)
    }

    /// Run the `end` programs, or the `error` programs after an uncaught
    /// error, each with the exit flag cleared.
    fn run_finals(&mut self) -> Result<(), SimError> {
        let finals = if self.errored {
            self.userspace(|k| match k {
                ProbeKind::Error { priority } => Some(*priority),
                _ => None,
            })
        } else {
            self.userspace(|k| match k {
                ProbeKind::End { priority } => Some(*priority),
                _ => None,
            })
        };
        for i in finals {
            // Every end (or error) probe runs, whatever an earlier one did.
            self.set_exit_flag(0)?;
            self.run_program(i, self.userspace_event())?;
            if self.faulted {
                return Ok(());
            }
        }
        Ok(())
    }

    fn userspace_event(&self) -> EventContext {
        match &self.userspace_ctx {
            Some(e) => e.clone(),
            None => EventContext {
                time_ns: self.now,
                ..EventContext::default()
            },
        }
    }

    fn kernel_event(&self, cpu: u32) -> EventContext {
        let mut e = EventContext {
            time_ns: self.now,
            cpu,
            ..EventContext::default()
        };
        if let Some(pid) = self.opts.target_pid {
            e.pid = pid as u32;
            e.tid = pid as u32;
        }
        e
    }

    /// Fire kernel probes in time order until exit, the duration, or no
    /// probe can fire. Queue entries are (time, program, source, cpu):
    /// source 0 is the probe's own period, 1 + n the events file's event n,
    /// so same-instant events fire in script order, then file order.
    fn run_events(&mut self) -> Result<(), SimError> {
        let mut queue: BinaryHeap<Reverse<(u64, usize, usize, u32)>> = BinaryHeap::new();
        let mut periods = vec![0u64; self.obj.programs.len()];
        // Cloned so the loop below can run programs (which borrow self mutably).
        let file: Vec<SimEvent> = self.opts.events.clone().unwrap_or_default();
        let mut from_file = vec![false; self.obj.programs.len()];
        for (n, e) in file.iter().enumerate() {
            let mut found = false;
            for (i, p) in self.obj.programs.iter().enumerate() {
                let fires = !p.kind.is_userspace() || matches!(p.kind, ProbeKind::UserTimer { .. });
                if fires && (p.point == e.probe || p.name == e.probe) {
                    found = true;
                    from_file[i] |= !matches!(
                        p.kind,
                        ProbeKind::Timer { .. } | ProbeKind::UserTimer { .. }
                    );
                    queue.push(Reverse((e.time_ns, i, 1 + n, e.cpu.unwrap_or(0))));
                }
            }
            if !found {
                return Err(SimError::UnknownProbe {
                    line: e.line,
                    probe: e.probe.clone(),
                });
            }
        }
        for (i, p) in self.obj.programs.iter().enumerate() {
            let (period, all_cpus) = match &p.kind {
                ProbeKind::UserTimer { period_ns } => (*period_ns, false),
                k if k.is_userspace() => continue,
                _ if from_file[i] => continue,
                ProbeKind::Timer { period_ns, profile } => (*period_ns, *profile),
                _ => (DEFAULT_EVENT_PERIOD_NS, false),
            };
            if period == 0 {
                continue;
            }
            periods[i] = period;
            let cpus = if all_cpus {
                self.machine.store().cpus()
            } else {
                1
            };
            for cpu in 0..cpus {
                queue.push(Reverse((period, i, 0, cpu)));
            }
        }
        while let Some(Reverse((t, i, source, cpu))) = queue.pop() {
            if t > self.opts.duration_ns {
                break;
            }
            self.now = t;
            let mut event = if self.obj.programs[i].kind.is_userspace() {
                // A timer stapc runs itself: stapc's own task, now.
                EventContext {
                    time_ns: t,
                    ..self.userspace_event()
                }
            } else {
                self.kernel_event(cpu)
            };
            if let Some(e) = source.checked_sub(1).and_then(|n| file.get(n)) {
                events::apply(e, &mut event);
            }
            let stop = self.run_program(i, event)?;
            if self.faulted || stop || self.exit_flag()? {
                break;
            }
            if source == 0 {
                if let Some(next) = t.checked_add(periods[i]) {
                    queue.push(Reverse((next, i, 0, cpu)));
                }
            }
        }
        Ok(())
    }

    /// Run program `i` once, then drain and print its output; returns true
    /// when the session should stop (exit or an uncaught error).
    fn run_program(&mut self, i: usize, mut event: EventContext) -> Result<bool, SimError> {
        let prog = &self.obj.programs[i];
        let t = prog.kind.program_type();
        self.machine.place_strings(&mut event);
        let ctx = events::context_bytes(t, context_size(t), &event, &prog.fields);
        self.machine.set_event(event);
        self.machine
            .store_mut()
            .set_buffer_limits(!prog.kind.is_userspace());
        // ---- functions/strings ----
        // Userspace programs (recursive script functions) are not bound by
        // the kernel's 8 frames; MAXNESTING bounds them in the program.
        self.machine.set_render_hists(prog.kind.is_userspace());
        self.machine.set_max_frames(if prog.kind.is_userspace() {
            crate::memory::MAX_STACK_FRAMES
        } else {
            crate::memory::MAX_FRAMES
        });
        let result = self.machine.run(&self.codes[i], &ctx);
        for line in std::mem::take(&mut self.machine.trace_log) {
            writeln!(self.err, "trace_printk: {}", line.trim_end_matches('\n'))?;
        }
        // Records sent before a fault are still printed.
        let drained = self.drain()?;
        if let Err(e) = result {
            self.report_fault(i, &e)?;
            return Ok(true);
        }
        if drained.broken {
            self.faulted = true;
            return Ok(true);
        }
        if drained.error || self.error_count()? > 0 {
            self.errored = true;
        }
        Ok(drained.exit || drained.error)
    }

    fn report_fault(&mut self, i: usize, e: &ExecError) -> Result<(), SimError> {
        let prog = &self.obj.programs[i];
        let at = match prog.line_of(e.pc() as u32) {
            Some(l) => format!(" (near {}:{}:{})", self.obj.source_name, l.line, l.col),
            None => String::new(),
        };
        writeln!(
            self.err,
            "ERROR: simulator: program {} ({}) failed: {e}{at}",
            prog.name, prog.point
        )?;
        self.faulted = true;
        Ok(())
    }

    fn drain(&mut self) -> Result<Drained, SimError> {
        let records = self
            .machine
            .store_mut()
            .drain(self.output)
            .map_err(|error| SimError::Map {
                map: self.obj.maps[self.output as usize].name.clone(),
                error,
            })?;
        let mut d = Drained::default();
        for r in records {
            if d.broken {
                break;
            }
            self.record(&r, &mut d)?;
        }
        self.out.flush()?;
        Ok(d)
    }

    /// Print records drained elsewhere (the kernel's output buffer); true
    /// when the session should stop.
    fn external_records(&mut self, records: &[Vec<u8>]) -> Result<bool, SimError> {
        let mut d = Drained::default();
        for r in records {
            if d.broken {
                break;
            }
            self.record(r, &mut d)?;
        }
        self.out.flush()?;
        if d.broken {
            self.faulted = true;
        }
        if d.error {
            self.errored = true;
        }
        Ok(d.exit || d.error || d.broken)
    }

    fn record(&mut self, r: &[u8], d: &mut Drained) -> Result<(), SimError> {
        let maps = self.machine.store_mut();
        match handle_record(self.obj, r, maps, &mut *self.out, &mut *self.err)? {
            RecordAction::Printed => {}
            RecordAction::Exit => d.exit = true,
            RecordAction::Error => d.error = true,
            RecordAction::Malformed => d.broken = true,
        }
        Ok(())
    }

    fn control_value(&mut self) -> Result<Vec<u8>, SimError> {
        let name = &self.obj.maps[self.control as usize].name;
        let v = self
            .machine
            .store_mut()
            .lookup(self.control, &0u32.to_le_bytes(), 0)
            .map_err(|error| SimError::Map {
                map: name.clone(),
                error,
            })?;
        v.ok_or_else(|| SimError::BadObject("control map has no entry 0".into()))
    }

    fn control_word(&mut self, off: i16) -> Result<u64, SimError> {
        let v = self.control_value()?;
        let o = off as usize;
        Ok(v.get(o..o + 8)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u64::from_le_bytes))
    }

    fn exit_flag(&mut self) -> Result<bool, SimError> {
        Ok(self.control_word(control::EXIT_FLAG)? != 0)
    }

    fn error_count(&mut self) -> Result<u64, SimError> {
        self.control_word(control::ERROR_COUNT)
    }

    fn set_exit_flag(&mut self, v: u64) -> Result<(), SimError> {
        let mut value = self.control_value()?;
        let o = control::EXIT_FLAG as usize;
        let Some(w) = value.get_mut(o..o + 8) else {
            return Err(SimError::BadObject("control map value is too short".into()));
        };
        w.copy_from_slice(&v.to_le_bytes());
        let name = self.obj.maps[self.control as usize].name.clone();
        self.machine
            .store_mut()
            .update(self.control, &0u32.to_le_bytes(), &value, BPF_ANY, None)
            .map_err(|error| SimError::Map { map: name, error })
    }
}

/// The simulator's handling of userspace probes (`begin`, `end`, `error`)
/// for a caller that runs the kernel probes elsewhere: the loader's runtime
/// runs them on the simulator against the kernel's own maps (its
/// `MapStore`) and prints the kernel's records through [`Self::records`],
/// so both print exactly as `--sim` does.
///
/// The order is the session's: [`Self::run_begin`], then (unless it says
/// the session is stopping) the kernel's events, then [`Self::run_end`].
pub struct UserspaceRunner<'a> {
    s: Session<'a>,
}

impl<'a> UserspaceRunner<'a> {
    /// A runner over `store`, whose maps must already hold their `init`
    /// entries (the loader writes them when it creates the maps).
    /// `opts.fuel` bounds each program run; `opts.target_pid` is what
    /// `target()` returns (written with [`Self::set_target_pid`]).
    pub fn new(
        obj: &'a Object,
        store: Box<dyn MapStore>,
        opts: &SessionOptions,
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
    ) -> Result<UserspaceRunner<'a>, SimError> {
        Ok(UserspaceRunner {
            s: Session::new(obj, store, opts.clone(), out, err)?,
        })
    }

    /// Make `target()` return `pid` (stored in the control map).
    pub fn set_target_pid(&mut self, pid: i64) -> Result<(), SimError> {
        let obj = self.s.obj;
        write_control_word(obj, self.s.machine.store_mut(), control::TARGET_PID, pid)
    }

    /// Wall-clock time minus the clock of [`Self::set_event`]'s `time_ns`
    /// and of the kernel's `ktime_get_ns` (the monotonic clock): userspace
    /// probes' `gettimeofday_*()` add it to their event time, kernel
    /// programs read it from the control map (`control::REALTIME_OFFSET`).
    pub fn set_realtime_offset(&mut self, offset: i64) -> Result<(), SimError> {
        self.s.machine.set_realtime_offset(offset);
        let obj = self.s.obj;
        write_control_word(
            obj,
            self.s.machine.store_mut(),
            control::REALTIME_OFFSET,
            offset,
        )
    }

    /// The task, CPU and time userspace probes see from now on (`pid()`,
    /// `execname()`, `gettimeofday_ns()`...).
    pub fn set_event(&mut self, event: EventContext) {
        self.s.userspace_ctx = Some(event);
    }

    /// Run the `begin` probes by priority, then source order, stopping at
    /// the first that sets the exit flag; true when the session is stopping
    /// (`exit()`, an uncaught error, or a program fault).
    pub fn run_begin(&mut self) -> Result<bool, SimError> {
        let stopping = self.s.run_begins()?;
        Ok(stopping || self.s.exit_flag()?)
    }

    /// The timers stapc runs itself (`ProbeKind::UserTimer`): program
    /// index and period in nanoseconds, in script order.
    pub fn user_timers(&self) -> Vec<(usize, u64)> {
        self.s
            .obj
            .programs
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p.kind {
                ProbeKind::UserTimer { period_ns } => Some((i, period_ns)),
                _ => None,
            })
            .collect()
    }

    /// Run program `i` (a timer of [`Self::user_timers`]) once as the task
    /// of [`Self::set_event`]; true when the session should stop (exit, an
    /// uncaught error or a fault).
    pub fn run_user_timer(&mut self, i: usize) -> Result<bool, SimError> {
        if i >= self.s.obj.programs.len() {
            return Ok(false);
        }
        let stop = self.s.run_program(i, self.s.userspace_event())?;
        Ok(stop || self.s.faulted || self.s.exit_flag()?)
    }

    /// Print records the kernel's programs sent, in order; true when one
    /// asks the session to stop (EXIT, ERROR, or a malformed record).
    pub fn records(&mut self, records: &[Vec<u8>]) -> Result<bool, SimError> {
        self.s.external_records(records)
    }

    /// Whether a program set the exit flag.
    pub fn exit_requested(&mut self) -> Result<bool, SimError> {
        self.s.exit_flag()
    }

    /// Note errors the kernel programs counted in the control map (their
    /// ERROR records may have been lost): the session then ends with the
    /// `error` probes and status 1.
    pub fn check_error_count(&mut self) -> Result<(), SimError> {
        if self.s.error_count()? > 0 {
            self.s.errored = true;
        }
        Ok(())
    }

    /// Run the `end` probes, or the `error` probes after an uncaught error
    /// (nothing after a program fault).
    pub fn run_end(&mut self) -> Result<(), SimError> {
        if self.s.faulted {
            return Ok(());
        }
        self.s.run_finals()?;
        self.s.out.flush()?;
        Ok(())
    }

    /// An uncaught error was reported.
    pub fn errored(&self) -> bool {
        self.s.errored
    }

    /// A userspace program faulted or a record was malformed: the session
    /// stops at once, without `end` probes.
    pub fn faulted(&self) -> bool {
        self.s.faulted
    }

    /// The script's exit status so far (0, or 1 after an error or a fault).
    pub fn status(&self) -> i32 {
        if self.s.errored || self.s.faulted {
            1
        } else {
            0
        }
    }

    pub fn store_mut(&mut self) -> &mut dyn MapStore {
        self.s.machine.store_mut()
    }

    /// Where the script's output goes.
    pub fn out(&mut self) -> &mut dyn Write {
        &mut *self.s.out
    }

    /// Where messages go.
    pub fn err(&mut self) -> &mut dyn Write {
        &mut *self.s.err
    }
}
