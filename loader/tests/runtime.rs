//! The kernel runtime end to end, on objects built by hand as runtime.md
//! lays them out: output identical to the simulator's for the same object,
//! `target()` of a `-c` child, and nothing left loaded after `exit()`,
//! SIGINT, or a panic inside the runtime. Each test runs only when this
//! process can load BPF, and prints why it skips otherwise.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stapc_bpf::helpers::{
    BPF_F_CURRENT_CPU, GET_CURRENT_PID_TGID, MAP_LOOKUP_ELEM, PERF_EVENT_OUTPUT, RINGBUF_OUTPUT,
};
use stapc_bpf::insn::*;
use stapc_bpf::object::{control, record};
use stapc_bpf::{ArgKind, ErrorMsg, Format, Insn, MapDef, MapKind, Object, ProbeKind, Program};
use stapc_loader::runtime::{run_with_reason, StopReason};
use stapc_loader::{can_load_bpf, loaded_program_ids, prog_info_by_id, run, RunOptions};

const GLOBALS: u32 = 0;
const CONTROL: u32 = 1;
const SCRATCH: u32 = 2;
const OUTPUT: u32 = 3;

/// Formats of every object here.
const FMT_BEGIN: i32 = 0; // "begin\n"
const FMT_TICK: i32 = 1; // "tick %d\n"
const FMT_COUNT: i32 = 2; // "count=%d\n"
const FMT_ERROR_PROBE: i32 = 3; // "error probe\n"
const FMT_TARGET: i32 = 4; // "target=%d\n"

fn kernel_available(test: &str) -> bool {
    match can_load_bpf() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
}

/// A tiny assembler for runtime-shaped programs; jumps to the common
/// `return 0` are patched at the end.
struct Asm {
    insns: Vec<Insn>,
    outs: Vec<usize>,
    output: MapKind,
}

impl Asm {
    fn new(output: MapKind) -> Asm {
        Asm {
            insns: Vec::new(),
            outs: Vec::new(),
            output,
        }
    }

    fn push(&mut self, i: Insn) -> &mut Asm {
        self.insns.push(i);
        self
    }

    fn extend(&mut self, i: impl IntoIterator<Item = Insn>) -> &mut Asm {
        self.insns.extend(i);
        self
    }

    /// `if dst OP imm goto out`.
    fn out_if(&mut self, op: u8, dst: u8, imm: i32) -> &mut Asm {
        self.outs.push(self.insns.len());
        self.push(Insn::jmp_imm(op, dst, imm, 0))
    }

    /// `if dst OP src goto out`.
    fn out_if_reg(&mut self, op: u8, dst: u8, src: u8) -> &mut Asm {
        self.outs.push(self.insns.len());
        self.push(Insn::jmp_reg(op, dst, src, 0))
    }

    /// `dst = map[0]`, returning 0 when NULL.
    fn lookup(&mut self, map: u32, dst: u8) -> &mut Asm {
        self.push(Insn::st(BPF_W, 10, -4, 0))
            .extend(Insn::ld_map(1, map))
            .push(Insn::mov64_reg(2, 10))
            .push(Insn::alu64_imm(BPF_ADD, 2, -4))
            .push(Insn::call(MAP_LOOKUP_ELEM))
            .out_if(BPF_JEQ, 0, 0)
            .push(Insn::mov64_reg(dst, 0))
    }

    /// The runtime prologue: ctx in r6, r7 = control, return when exiting.
    fn prologue(&mut self) -> &mut Asm {
        self.push(Insn::mov64_reg(6, 1))
            .lookup(CONTROL, 7)
            .push(Insn::ldx(BPF_DW, 1, 7, control::EXIT_FLAG))
            .out_if(BPF_JNE, 1, 0)
    }

    /// Send the `size`-byte record at r9 through the output map.
    fn send(&mut self, size: i32) -> &mut Asm {
        match self.output {
            MapKind::RingBuf => self
                .extend(Insn::ld_map(1, OUTPUT))
                .push(Insn::mov64_reg(2, 9))
                .push(Insn::mov64_imm(3, size))
                .push(Insn::mov64_imm(4, 0))
                .push(Insn::call(RINGBUF_OUTPUT)),
            _ => self
                .push(Insn::mov64_reg(1, 6))
                .extend(Insn::ld_map(2, OUTPUT))
                .extend(Insn::lddw(3, BPF_F_CURRENT_CPU))
                .push(Insn::mov64_reg(4, 9))
                .push(Insn::mov64_imm(5, size))
                .push(Insn::call(PERF_EVENT_OUTPUT)),
        }
    }

    /// printf(format `id`, long in `arg`), built in scratch (r9).
    fn printf(&mut self, id: i32, arg: Option<u8>) -> &mut Asm {
        self.lookup(SCRATCH, 9)
            .push(Insn::st(BPF_W, 9, 0, record::PRINTF as i32))
            .push(Insn::st(BPF_W, 9, 4, id));
        match arg {
            Some(r) => self.push(Insn::stx(BPF_DW, 9, r, 8)).send(16),
            None => self.send(8),
        }
    }

    /// exit(): set the exit flag, send an EXIT record.
    fn exit(&mut self) -> &mut Asm {
        self.push(Insn::mov64_imm(1, 1))
            .push(Insn::stx(BPF_DW, 7, 1, control::EXIT_FLAG))
            .lookup(SCRATCH, 9)
            .push(Insn::st(BPF_W, 9, 0, record::EXIT as i32))
            .push(Insn::st(BPF_W, 9, 4, 0))
            .send(8)
    }

    /// An uncaught error #0: count it, set the exit flag, send ERROR.
    fn trap(&mut self) -> &mut Asm {
        self.push(Insn::mov64_imm(1, 1))
            .push(Insn::atomic(
                BPF_DW,
                7,
                1,
                control::ERROR_COUNT,
                BPF_ADD as i32,
            ))
            .push(Insn::mov64_imm(1, 1))
            .push(Insn::stx(BPF_DW, 7, 1, control::EXIT_FLAG))
            .lookup(SCRATCH, 9)
            .push(Insn::st(BPF_W, 9, 0, record::ERROR as i32))
            .push(Insn::st(BPF_W, 9, 4, 0))
            .send(8)
    }

    /// r8 = ++globals.count (atomically).
    fn count(&mut self) -> &mut Asm {
        self.lookup(GLOBALS, 8)
            .push(Insn::mov64_imm(1, 1))
            .push(Insn::atomic(BPF_DW, 8, 1, 0, BPF_ADD as i32 | BPF_FETCH))
            .push(Insn::mov64_reg(8, 1))
            .push(Insn::alu64_imm(BPF_ADD, 8, 1))
    }

    /// r8 = globals.count.
    fn load_count(&mut self) -> &mut Asm {
        self.lookup(GLOBALS, 8).push(Insn::ldx(BPF_DW, 8, 8, 0))
    }

    /// Return unless the current process is `target()`.
    fn only_target(&mut self) -> &mut Asm {
        self.push(Insn::call(GET_CURRENT_PID_TGID))
            .push(Insn::alu64_imm(BPF_RSH, 0, 32))
            .push(Insn::ldx(BPF_DW, 1, 7, control::TARGET_PID))
            .out_if_reg(BPF_JNE, 0, 1)
    }

    fn finish(&mut self) -> Vec<Insn> {
        let out = self.insns.len();
        for &i in &self.outs {
            self.insns[i].off = (out - i - 1) as i16;
        }
        self.extend([Insn::mov64_imm(0, 0), Insn::exit()]);
        std::mem::take(&mut self.insns)
    }
}

fn map(name: &str, kind: MapKind, key: u32, value: u32, max: u32) -> MapDef {
    MapDef {
        name: name.into(),
        kind,
        key_size: key,
        value_size: value,
        max_entries: max,
        init: vec![],
    }
}

/// An object with the four runtime maps and `programs` (name, kind, code).
fn object(output: MapKind, programs: Vec<(String, ProbeKind, Vec<Insn>)>) -> Object {
    let mut globals = map("stapc_globals", MapKind::Array, 4, 8, 1);
    globals.init = vec![(0u32.to_le_bytes().to_vec(), 0u64.to_le_bytes().to_vec())];
    let out = match output {
        MapKind::RingBuf => map("stapc_output", MapKind::RingBuf, 0, 0, 262_144),
        _ => map("stapc_output", MapKind::PerfEventArray, 4, 4, 0),
    };
    let long = |text: &str| Format {
        text: text.into(),
        args: vec![ArgKind::Long],
    };
    Object {
        source_name: "runtime.stp".into(),
        programs: programs
            .into_iter()
            .map(|(name, kind, insns)| Program {
                fields: Vec::new(),
                point: format!("{kind:?}"),
                name,
                kind,
                insns,
                lines: vec![],
            })
            .collect(),
        maps: vec![
            globals,
            map("stapc_control", MapKind::Array, 4, control::VALUE_SIZE, 1),
            map("stapc_scratch", MapKind::PerCpuArray, 4, 64, 1),
            out,
        ],
        formats: vec![
            Format {
                text: "begin\n".into(),
                args: vec![],
            },
            long("tick %d\n"),
            long("count=%d\n"),
            Format {
                text: "error probe\n".into(),
                args: vec![],
            },
            long("target=%d\n"),
        ],
        errors: vec![ErrorMsg {
            message: "division by 0".into(),
            location: "near operator '/' at runtime.stp:3:50".into(),
        }],
        max_string_len: 64,
        control_map: CONTROL,
        output_map: OUTPUT,
        license: "GPL".into(),
        ..Default::default()
    }
}

fn begin_prog(output: MapKind, tag: &str) -> (String, ProbeKind, Vec<Insn>) {
    (
        format!("{tag}_b"),
        ProbeKind::Begin { priority: 0 },
        Asm::new(output).prologue().printf(FMT_BEGIN, None).finish(),
    )
}

fn end_prog(output: MapKind, tag: &str) -> (String, ProbeKind, Vec<Insn>) {
    (
        format!("{tag}_e"),
        ProbeKind::End { priority: 0 },
        Asm::new(output)
            .prologue()
            .load_count()
            .printf(FMT_COUNT, Some(8))
            .finish(),
    )
}

/// begin prints; a 1 ms timer prints each tick and exits after `ticks`
/// (None: never); end prints the count. Program names start with `tag`.
fn timer_object(output: MapKind, tag: &str, ticks: Option<i32>) -> Object {
    let mut timer = Asm::new(output);
    timer.prologue().count().printf(FMT_TICK, Some(8));
    if let Some(n) = ticks {
        timer.out_if(BPF_JLT, 8, n).exit();
    }
    object(
        output,
        vec![
            begin_prog(output, tag),
            (
                format!("{tag}_t"),
                ProbeKind::Timer {
                    period_ns: 1_000_000,
                    profile: false,
                },
                timer.finish(),
            ),
            end_prog(output, tag),
        ],
    )
}

/// The names of the programs loaded now whose name starts with `prefix`.
fn loaded_named(prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    for id in loaded_program_ids().unwrap_or_default() {
        if let Ok(Some(info)) = prog_info_by_id(id) {
            if info.name.starts_with(prefix) {
                names.push(info.name);
            }
        }
    }
    names
}

/// Wait until no program named `prefix…` is loaded (freeing may lag the
/// last close by an RCU grace period).
fn assert_none_loaded(prefix: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = loaded_named(prefix);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "programs still loaded: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_kernel(obj: &Object, opts: &RunOptions) -> (i32, StopReason, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (status, reason) = run_with_reason(obj, opts, &mut out, &mut err)
        .unwrap_or_else(|e| panic!("runtime failed: {e}"));
    (
        status,
        reason,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

fn run_sim(obj: &Object) -> (i32, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = stapc_sim::run(
        obj,
        &stapc_sim::SessionOptions::default(),
        &mut out,
        &mut err,
    )
    .unwrap_or_else(|e| panic!("simulator failed: {e}"));
    (status, String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn timer_object_prints_what_the_simulator_prints() {
    if !kernel_available("timer_object_prints_what_the_simulator_prints") {
        return;
    }
    for (output, tag) in [
        (MapKind::RingBuf, "rtsim_rb"),
        (MapKind::PerfEventArray, "rtsim_pe"),
    ] {
        let obj = timer_object(output, tag, Some(5));
        let (sim_status, sim_out) = run_sim(&obj);
        assert_eq!(
            sim_out,
            "begin\ntick 1\ntick 2\ntick 3\ntick 4\ntick 5\ncount=5\n"
        );
        let started = Instant::now();
        let (status, reason, out, err) = run_kernel(&obj, &RunOptions::default());
        assert_eq!(out, sim_out, "{output:?}; stderr: {err}");
        assert_eq!(status, sim_status);
        assert_eq!(reason, StopReason::Script);
        assert_eq!(err, "");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_none_loaded(tag);
    }
}

#[test]
fn exit_in_begin_attaches_nothing_and_runs_end() {
    if !kernel_available("exit_in_begin_attaches_nothing_and_runs_end") {
        return;
    }
    let output = MapKind::RingBuf;
    let begin = Asm::new(output)
        .prologue()
        .printf(FMT_BEGIN, None)
        .exit()
        .finish();
    let mut obj = timer_object(output, "rtbeg", None);
    obj.programs[0].insns = begin;
    let (sim_status, sim_out) = run_sim(&obj);
    let (status, reason, out, _) = run_kernel(&obj, &RunOptions::default());
    assert_eq!(reason, StopReason::Begin);
    assert_eq!((status, out.as_str()), (sim_status, sim_out.as_str()));
    assert_eq!(out, "begin\ncount=0\n");
}

#[test]
fn verbose_reports_load_and_attach_times() {
    if !kernel_available("verbose_reports_load_and_attach_times") {
        return;
    }
    let obj = timer_object(MapKind::RingBuf, "rtverb", Some(1));
    let opts = RunOptions {
        verbose: 1,
        ..RunOptions::default()
    };
    let (status, _, out, err) = run_kernel(&obj, &opts);
    assert_eq!(status, 0);
    assert_eq!(out, "begin\ntick 1\ncount=1\n");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert_eq!(lines[0], "Pass 5: starting run.");
    assert!(lines[1].starts_with("Pass 5: loaded 1 kernel programs and 4 maps in "));
    assert!(lines[2].starts_with("Pass 5: attached 1 probes (1 perf events) in "));
    assert!(lines[3].starts_with("Pass 5: run completed in "));
}

/// `sys_enter_read` events of `target()` counted; end prints the count.
fn read_counter(tag: &str) -> Object {
    let output = MapKind::RingBuf;
    // Only reads of READ_SIZE bytes: the child's own, not its runtime's.
    let counter = Asm::new(output)
        .prologue()
        .only_target()
        .push(Insn::ldx(BPF_DW, 1, 6, 32))
        .out_if(BPF_JNE, 1, READ_SIZE as i32)
        .count()
        .finish();
    object(
        output,
        vec![
            (
                format!("{tag}_r"),
                ProbeKind::Tracepoint {
                    group: "syscalls".into(),
                    name: "sys_enter_read".into(),
                },
                counter,
            ),
            end_prog(output, tag),
        ],
    )
}

const READ_SIZE: usize = 7777;
const READER_ENV: &str = "STAPC_RUNTIME_TEST_READS";

/// Not a test of its own: the `-c` child of `command_child_is_the_target`,
/// which makes exactly `$STAPC_RUNTIME_TEST_READS` reads of 7777 bytes.
#[test]
fn reader_child() {
    use std::io::Read;
    let Some(n) = std::env::var(READER_ENV)
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    else {
        return;
    };
    let mut f = std::fs::File::open("/dev/zero").unwrap();
    let mut buf = vec![0u8; READ_SIZE];
    for _ in 0..n {
        assert_eq!(f.read(&mut buf).unwrap(), READ_SIZE);
    }
}

#[test]
fn command_child_is_the_target() {
    if !kernel_available("command_child_is_the_target") {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let n = 13;
    let command = vec![
        "/usr/bin/env".to_string(),
        format!("{READER_ENV}={n}"),
        exe.display().to_string(),
        "reader_child".into(),
        "--exact".into(),
        "--quiet".into(),
        "--test-threads=1".into(),
    ];
    let obj = read_counter("rtcmd");
    let opts = RunOptions {
        command: Some(command),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let (status, reason, out, err) = run_kernel(&obj, &opts);
    assert_eq!(reason, StopReason::Command);
    assert_eq!((status, out.as_str()), (0, "count=13\n"), "stderr: {err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_none_loaded("rtcmd");
}

#[test]
fn a_command_that_cannot_start_is_an_error() {
    let obj = read_counter("rtnocmd");
    let opts = RunOptions {
        command: Some(vec!["stapc-no-such-command-anywhere".into()]),
        ..RunOptions::default()
    };
    let e = run(&obj, &opts, &mut Vec::new(), &mut Vec::new()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot run command `stapc-no-such-command-anywhere`: not found in $PATH"
    );
}

#[test]
fn a_failed_attach_names_the_probe_and_detaches_the_others() {
    if !kernel_available("a_failed_attach_names_the_probe_and_detaches_the_others") {
        return;
    }
    let output = MapKind::RingBuf;
    let mut obj = timer_object(output, "rtatt", None);
    obj.programs.push(Program {
        fields: Vec::new(),
        name: "rtatt_x".into(),
        kind: ProbeKind::Tracepoint {
            group: "syscalls".into(),
            name: "sys_enter_no_such_call".into(),
        },
        point: "syscall.no_such_call".into(),
        insns: Asm::new(output).prologue().finish(),
        lines: vec![],
    });
    let e = run(
        &obj,
        &RunOptions::default(),
        &mut Vec::new(),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot attach probe syscall.no_such_call (program `rtatt_x`)"),
        "{e}"
    );
    assert!(e
        .to_string()
        .ends_with("the kernel has no tracepoint syscalls:sys_enter_no_such_call"));
    assert_none_loaded("rtatt");
}

/// A writer that panics when the output reaches `at`.
struct PanicAt {
    text: Vec<u8>,
    at: &'static str,
}

impl Write for PanicAt {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        if String::from_utf8_lossy(&self.text).contains(self.at) {
            panic!("output reached {:?}", self.at);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panic_in_the_runtime_leaves_nothing_loaded() {
    if !kernel_available("a_panic_in_the_runtime_leaves_nothing_loaded") {
        return;
    }
    let handle = std::thread::spawn(|| {
        let obj = timer_object(MapKind::RingBuf, "rtpanic", None);
        let mut out = PanicAt {
            text: Vec::new(),
            at: "tick 3\n",
        };
        let _ = run(&obj, &RunOptions::default(), &mut out, &mut Vec::new());
    });
    assert!(handle.join().is_err(), "the runtime should have panicked");
    assert_none_loaded("rtpanic");
}

const SIGINT_ENV: &str = "STAPC_RUNTIME_TEST_SIGINT";

/// Not a test of its own: the process `sigint_stops_the_session` interrupts.
/// Runs a never-exiting timer object, printing to stdout.
#[test]
fn sigint_child() {
    if std::env::var_os(SIGINT_ENV).is_none() {
        return;
    }
    let obj = timer_object(MapKind::RingBuf, "rtsigint", None);
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let (status, reason) =
        run_with_reason(&obj, &RunOptions::default(), &mut out, &mut err).unwrap();
    println!("status={status} reason={reason:?}");
}

#[test]
fn sigint_and_sigterm_stop_the_session() {
    if !kernel_available("sigint_and_sigterm_stop_the_session") {
        return;
    }
    for (signal, number) in [("-INT", 2), ("-TERM", 15)] {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args(["sigint_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(SIGINT_ENV, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Wait for the kernel's probe to fire (the program is attached).
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let ticking = line == "tick 2";
            seen.push(line);
            if ticking {
                break;
            }
        }
        // (libtest's "test sigint_child ... " precedes the first line.)
        assert!(seen.iter().any(|l| l.ends_with("begin")), "{seen:?}");
        assert!(!loaded_named("rtsigint").is_empty());
        let kill = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        let status = child.wait().unwrap();
        assert!(status.success(), "{signal}: {status:?}; output {rest:?}");
        // The end probe ran with the count the kernel reached.
        let count = rest
            .iter()
            .find_map(|l| l.strip_prefix("count="))
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no count in {rest:?}"));
        assert!(count >= 2, "{rest:?}");
        let want = format!("status=0 reason=Signal({number})");
        assert!(rest.contains(&want), "{signal}: {rest:?}");
        assert_none_loaded("rtsigint");
    }
}

#[test]
fn a_kernel_error_runs_the_error_probes_as_the_simulator_does() {
    if !kernel_available("a_kernel_error_runs_the_error_probes_as_the_simulator_does") {
        return;
    }
    let output = MapKind::RingBuf;
    let mut timer = Asm::new(output);
    timer
        .prologue()
        .count()
        .printf(FMT_TICK, Some(8))
        .out_if(BPF_JLT, 8, 3)
        .trap();
    let mut obj = timer_object(output, "rterr", None);
    obj.programs[1].insns = timer.finish();
    obj.programs.push(Program {
        fields: Vec::new(),
        name: "rterr_err".into(),
        kind: ProbeKind::Error { priority: 0 },
        point: "error".into(),
        insns: Asm::new(output)
            .prologue()
            .printf(FMT_ERROR_PROBE, None)
            .finish(),
        lines: vec![],
    });
    let (sim_status, sim_out) = run_sim(&obj);
    assert_eq!(sim_out, "begin\ntick 1\ntick 2\ntick 3\nerror probe\n");
    let (status, reason, out, err) = run_kernel(&obj, &RunOptions::default());
    assert_eq!((status, out.as_str()), (sim_status, sim_out.as_str()));
    assert_eq!(status, 1);
    assert_eq!(reason, StopReason::Script);
    assert_eq!(
        err,
        "ERROR: division by 0 near operator '/' at runtime.stp:3:50\n"
    );
    assert_none_loaded("rterr");
}

#[test]
fn target_pid_reaches_begin_and_kernel_probes_through_the_control_map() {
    if !kernel_available("target_pid_reaches_begin_and_kernel_probes_through_the_control_map") {
        return;
    }
    let output = MapKind::RingBuf;
    let print_target = |a: &mut Asm| {
        a.push(Insn::ldx(BPF_DW, 8, 7, control::TARGET_PID))
            .printf(FMT_TARGET, Some(8));
    };
    let mut begin = Asm::new(output);
    begin.prologue();
    print_target(&mut begin);
    let mut timer = Asm::new(output);
    timer.prologue();
    print_target(&mut timer);
    timer.exit();
    let mut obj = timer_object(output, "rttgt", None);
    obj.programs[0].insns = begin.finish();
    obj.programs[1].insns = timer.finish();
    let mut out = Vec::new();
    let sim = stapc_sim::SessionOptions {
        target_pid: Some(4242),
        ..Default::default()
    };
    stapc_sim::run(&obj, &sim, &mut out, &mut Vec::new()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out),
        "target=4242\ntarget=4242\ncount=0\n"
    );
    let opts = RunOptions {
        target_pid: Some(4242),
        ..RunOptions::default()
    };
    let (status, _, kout, _) = run_kernel(&obj, &opts);
    assert_eq!((status, kout.as_bytes()), (0, out.as_slice()));
}
