//! Tests against the real kernel: maps of every kind, programs shaped as
//! runtime.md describes (control lookup + exit flag, globals, records through
//! a ring buffer or perf event array), a verifier rejection with its log,
//! BPF_PROG_TEST_RUN, attaching timers, tracepoints and uprobes, and checking
//! that nothing stays loaded afterwards. Each test runs only when
//! `can_load_bpf()` says this process can load BPF, and prints why not otherwise.
#![forbid(unsafe_code)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use stapc_bpf::helpers::{
    BPF_F_CURRENT_CPU, GET_CURRENT_PID_TGID, MAP_LOOKUP_ELEM, PERF_EVENT_OUTPUT, RINGBUF_OUTPUT,
};
use stapc_bpf::insn::*;
use stapc_bpf::object::record;
use stapc_bpf::{Insn, LineEntry, MapDef, MapKind, Object, ProbeKind, Program, ProgramType};
use stapc_loader::ringbuf::OutputReader;
use stapc_loader::{
    attach, can_load_bpf, load, load_program, loaded_program_ids, patch_map_fds, prog_info,
    test_run, AttachError, AttachFailure, LoadError, Map, ProgramSpec, RingBufReader,
};

const GLOBALS: u32 = 0;
const CONTROL: u32 = 1;
const SCRATCH: u32 = 2;
const OUTPUT: u32 = 3;

/// Tests that count getpid() calls must not see each other's, and tests
/// that look at the mount table must not see another test's tracefs mount.
static GETPID: Mutex<()> = Mutex::new(());

fn kernel_available(test: &str) -> bool {
    match can_load_bpf() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
}

/// A tiny assembler: jumps to the common `return 0` are patched at the end.
#[derive(Default)]
struct Asm {
    insns: Vec<Insn>,
    outs: Vec<usize>,
}

impl Asm {
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

    /// The runtime prologue: keep ctx in r6, r7 = control, return when exiting.
    fn prologue(&mut self) -> &mut Asm {
        self.push(Insn::mov64_reg(6, 1))
            .lookup(CONTROL, 7)
            .push(Insn::ldx(BPF_DW, 1, 7, 0))
            .out_if(BPF_JNE, 1, 0)
    }

    fn only_pid(&mut self, pid: u32) -> &mut Asm {
        self.push(Insn::call(GET_CURRENT_PID_TGID))
            .push(Insn::alu64_imm(BPF_RSH, 0, 32))
            .out_if(BPF_JNE, 0, pid as i32)
    }

    /// globals[0].u64 at 0 += 1, atomically.
    fn count(&mut self) -> &mut Asm {
        self.lookup(GLOBALS, 8)
            .push(Insn::mov64_imm(1, 1))
            .push(Insn::atomic(BPF_DW, 8, 1, 0, BPF_ADD as i32))
    }

    /// Build a PRINTF record {kind, id 7, long 42} in scratch (r9).
    fn record(&mut self) -> &mut Asm {
        self.lookup(SCRATCH, 9)
            .push(Insn::st(BPF_W, 9, 0, record::PRINTF as i32))
            .push(Insn::st(BPF_W, 9, 4, 7))
            .push(Insn::st(BPF_DW, 9, 8, 42))
    }

    fn send_ringbuf(&mut self) -> &mut Asm {
        self.record()
            .extend(Insn::ld_map(1, OUTPUT))
            .push(Insn::mov64_reg(2, 9))
            .push(Insn::mov64_imm(3, 16))
            .push(Insn::mov64_imm(4, 0))
            .push(Insn::call(RINGBUF_OUTPUT))
    }

    fn send_perf(&mut self) -> &mut Asm {
        self.record()
            .push(Insn::mov64_reg(1, 6))
            .extend(Insn::ld_map(2, OUTPUT))
            .extend(Insn::lddw(3, BPF_F_CURRENT_CPU))
            .push(Insn::mov64_reg(4, 9))
            .push(Insn::mov64_imm(5, 16))
            .push(Insn::call(PERF_EVENT_OUTPUT))
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

/// An object with the four runtime maps and the given programs.
fn object(output: MapKind, programs: Vec<(&str, ProbeKind, Vec<Insn>)>) -> Object {
    let mut globals = map("stapc_globals", MapKind::Array, 4, 8, 1);
    globals.init = vec![(0u32.to_le_bytes().to_vec(), 5u64.to_le_bytes().to_vec())];
    let out = match output {
        MapKind::RingBuf => map("stapc_output", MapKind::RingBuf, 0, 0, 262_144),
        _ => map("stapc_output", MapKind::PerfEventArray, 4, 4, 0),
    };
    Object {
        source_name: "kernel.stp".into(),
        programs: programs
            .into_iter()
            .map(|(name, kind, insns)| Program {
                fields: Vec::new(),
                name: name.into(),
                point: format!("{kind:?}"),
                kind,
                insns,
                lines: vec![],
            })
            .collect(),
        maps: vec![
            globals,
            map("stapc_control", MapKind::Array, 4, 16, 1),
            map("stapc_scratch", MapKind::PerCpuArray, 4, 64, 1),
            out,
        ],
        formats: vec![],
        errors: vec![],
        max_string_len: 64,
        control_map: CONTROL,
        output_map: OUTPUT,
        license: "GPL".into(),
        ..Default::default()
    }
}

fn global_count(m: &Map) -> u64 {
    let v = m.lookup(&0u32.to_le_bytes()).unwrap().unwrap();
    u64::from_le_bytes(v[..8].try_into().unwrap())
}

fn getpid_tracepoint() -> ProbeKind {
    ProbeKind::Tracepoint {
        group: "syscalls".into(),
        name: "sys_enter_getpid".into(),
    }
}

/// Wait until none of `ids` is loaded (program freeing may lag the close
/// by an RCU grace period).
fn assert_unloaded(ids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let live = loaded_program_ids().unwrap();
        let left: Vec<u32> = ids.iter().copied().filter(|id| live.contains(id)).collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "programs {left:?} are still loaded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_map_kind_is_created_and_usable() {
    if !kernel_available("every_map_kind_is_created_and_usable") {
        return;
    }
    let cpus = stapc_loader::maps::possible_cpu_count().unwrap();
    for kind in [
        MapKind::Array,
        MapKind::Hash,
        MapKind::PerCpuArray,
        MapKind::PerCpuHash,
        MapKind::LruHash,
    ] {
        let mut def = map("t", kind, 4, 12, 8);
        def.init = vec![(1u32.to_le_bytes().to_vec(), vec![7; 12])];
        let m = Map::create_and_init(&def).unwrap();
        let key = 1u32.to_le_bytes();
        assert_eq!(m.lookup(&key).unwrap(), Some(vec![7; 12]), "{kind:?}");
        m.update(&key, &[9; 12], 0).unwrap();
        assert_eq!(m.lookup(&key).unwrap(), Some(vec![9; 12]), "{kind:?}");
        if m.is_per_cpu() {
            let all = m.lookup_per_cpu(&key).unwrap().unwrap();
            assert_eq!(all.len(), cpus as usize);
            assert!(all.iter().all(|v| v == &vec![9; 12]));
        }
        match kind {
            MapKind::Array | MapKind::PerCpuArray => {
                assert_eq!(m.keys().unwrap().len(), 8);
            }
            _ => {
                assert_eq!(m.keys().unwrap(), vec![key.to_vec()]);
                assert!(m.delete(&key).unwrap());
                assert!(!m.delete(&key).unwrap());
                assert_eq!(m.lookup(&key).unwrap(), None);
            }
        }
    }
    let rb = Map::create(&map("rb", MapKind::RingBuf, 0, 0, 4096 * 4)).unwrap();
    assert_eq!(rb.max_entries(), 4096 * 4);
    let pea = Map::create(&map("pea", MapKind::PerfEventArray, 4, 4, 0)).unwrap();
    assert_eq!(pea.max_entries(), cpus);
}

#[test]
fn kernel_accepts_runtime_shaped_programs() {
    if !kernel_available("kernel_accepts_runtime_shaped_programs") {
        return;
    }
    let timer = ProbeKind::Timer {
        period_ns: 1_000_000,
        profile: false,
    };
    let rb = object(
        MapKind::RingBuf,
        vec![
            (
                "timer_rb",
                timer.clone(),
                Asm::default().prologue().count().send_ringbuf().finish(),
            ),
            (
                "tp_rb",
                getpid_tracepoint(),
                Asm::default().prologue().count().send_ringbuf().finish(),
            ),
        ],
    );
    let loaded = load(&rb).unwrap();
    assert_eq!(loaded.programs().len(), 2);
    assert_eq!(
        global_count(loaded.map(GLOBALS).unwrap()),
        5,
        "init entry written"
    );
    for p in loaded.programs() {
        let info = prog_info(p.fd()).unwrap();
        assert_eq!(info.name, p.name());
        assert_eq!(info.prog_type, p.kind().program_type().kernel_type());
    }
    let perf = object(
        MapKind::PerfEventArray,
        vec![
            (
                "timer_pe",
                timer,
                Asm::default().prologue().count().send_perf().finish(),
            ),
            (
                "tp_pe",
                getpid_tracepoint(),
                Asm::default().prologue().count().send_perf().finish(),
            ),
        ],
    );
    let loaded = load(&perf).unwrap();
    assert!(loaded.program_fd("timer_pe").is_some() && loaded.program_fd("tp_pe").is_some());
}

#[test]
fn verifier_rejection_keeps_the_kernel_log() {
    if !kernel_available("verifier_rejection_keeps_the_kernel_log") {
        return;
    }
    // Dereference a hash map lookup result without checking it for NULL.
    // (Not an array map: recent verifiers know a constant in-bounds key of
    // an array always finds a value.)
    let mut insns = vec![Insn::st(BPF_W, 10, -4, 0)];
    insns.extend(Insn::ld_map(1, 4));
    insns.extend([
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(BPF_ADD, 2, -4),
        Insn::call(MAP_LOOKUP_ELEM),
        Insn::ldx(BPF_DW, 0, 0, 0),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ]);
    let mut obj = object(
        MapKind::RingBuf,
        vec![(
            "bad_timer",
            ProbeKind::Timer {
                period_ns: 1,
                profile: false,
            },
            insns,
        )],
    );
    obj.maps.push(map("counts", MapKind::Hash, 4, 8, 16));
    // With a line table and a readable source, the kernel's log quotes the
    // script (through BTF line info).
    let source = std::env::temp_dir().join(format!("stapc-kernel-{}.stp", std::process::id()));
    std::fs::write(&source, "probe timer.ms(1) {\n  x = counts[0]\n}\n").unwrap();
    obj.source_name = source.display().to_string();
    obj.programs[0].lines = vec![
        LineEntry {
            insn: 0,
            line: 1,
            col: 1,
        },
        LineEntry {
            insn: 6,
            line: 2,
            col: 7,
        },
    ];
    let err = load(&obj).unwrap_err();
    std::fs::remove_file(&source).unwrap();
    let LoadError::Verifier {
        ref program,
        errno,
        ref log,
        truncated,
        ..
    } = err
    else {
        panic!("expected a verifier error, got {err}")
    };
    assert_eq!(program, "bad_timer");
    assert_eq!(errno, libc::EACCES);
    assert!(!truncated);
    assert!(
        log.contains("invalid mem access 'map_value_or_null'"),
        "log:\n{log}"
    );
    assert!(log.contains("; x = counts[0]"), "log:\n{log}");
    let text = err.to_string();
    assert!(text.contains("EACCES (Permission denied)"), "{text}");
    assert!(
        text.contains("invalid mem access 'map_value_or_null'"),
        "{text}"
    );
    assert!(text.contains("stapc --explain-verifier"), "{text}");
}

#[test]
fn a_long_verifier_log_is_captured_whole() {
    if !kernel_available("a_long_verifier_log_is_captured_whole") {
        return;
    }
    // Thousands of instructions before the faulty access make a log far
    // larger than the first 64 KiB buffer.
    let mut insns = vec![Insn::mov64_imm(6, 0)];
    for _ in 0..3000 {
        insns.push(Insn::jmp_imm(BPF_JGT, 6, 1_000_000, 0));
        insns.push(Insn::alu64_imm(BPF_ADD, 6, 1));
    }
    insns.push(Insn::st(BPF_W, 10, -4, 0));
    insns.extend(Insn::ld_map(1, 4));
    insns.extend([
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(BPF_ADD, 2, -4),
        Insn::call(MAP_LOOKUP_ELEM),
        Insn::ldx(BPF_DW, 0, 0, 0),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ]);
    let mut obj = object(
        MapKind::RingBuf,
        vec![("long_tp", getpid_tracepoint(), insns)],
    );
    obj.maps.push(map("counts", MapKind::Hash, 4, 8, 16));
    let err = load(&obj).unwrap_err();
    let LoadError::Verifier {
        errno,
        ref log,
        truncated,
        ..
    } = err
    else {
        panic!("expected a verifier error, got {err}")
    };
    assert_eq!(errno, libc::EACCES);
    assert!(!truncated);
    assert!(
        log.len() > stapc_loader::prog::LOG_START,
        "log of {} bytes",
        log.len()
    );
    assert!(
        log.starts_with("0: "),
        "the log starts at the first instruction: {}",
        &log[..80]
    );
    assert!(log.contains("invalid mem access 'map_value_or_null'"));
    // The message shows the end of the log, where the error is.
    let text = err.to_string();
    assert!(text.contains("verifier log (last 20 of "), "{text}");
    assert!(
        text.contains("invalid mem access 'map_value_or_null'"),
        "{text}"
    );
}

#[test]
fn syscall_program_runs_with_test_run_and_its_record_is_read() {
    if !kernel_available("syscall_program_runs_with_test_run_and_its_record_is_read") {
        return;
    }
    let insns = Asm::default().prologue().count().send_ringbuf().finish();
    let obj = object(
        MapKind::RingBuf,
        vec![("begin_0", ProbeKind::Begin { priority: 0 }, insns.clone())],
    );
    let loaded = load(&obj).unwrap();
    assert!(
        loaded.programs().is_empty(),
        "userspace probes are not loaded by load()"
    );
    let fds: Vec<i32> = loaded
        .maps()
        .iter()
        .map(|m| std::os::fd::AsRawFd::as_raw_fd(&m.fd()))
        .collect();
    let patched = patch_map_fds("begin_0", &insns, &fds).unwrap();
    let prog = load_program(&ProgramSpec {
        name: "begin_0",
        point: "begin",
        prog_type: ProgramType::Syscall,
        expected_attach_type: 0,
        insns: &patched,
        license: "GPL",
        lines: None,
    })
    .unwrap();
    let mut reader = RingBufReader::new(loaded.output_map().unwrap()).unwrap();
    for _ in 0..3 {
        assert_eq!(
            test_run(std::os::fd::AsFd::as_fd(&prog), &[])
                .unwrap()
                .retval,
            0
        );
    }
    assert_eq!(global_count(loaded.map(GLOBALS).unwrap()), 5 + 3);
    assert!(reader.wait(0).unwrap(), "records are waiting");
    let mut records = Vec::new();
    assert_eq!(reader.read(|r| records.push(r.to_vec())), 3);
    assert!(!reader.wait(0).unwrap(), "the ring is drained");
    let mut expected = record::PRINTF.to_le_bytes().to_vec();
    expected.extend(7u32.to_le_bytes());
    expected.extend(42u64.to_le_bytes());
    assert!(records.iter().all(|r| *r == expected), "{records:?}");

    // Once the exit flag is set, programs return at once.
    loaded.request_exit().unwrap();
    test_run(std::os::fd::AsFd::as_fd(&prog), &[]).unwrap();
    assert_eq!(global_count(loaded.map(GLOBALS).unwrap()), 8);
    assert_eq!(reader.read(|_| {}), 0);
}

fn record_bytes() -> Vec<u8> {
    let mut expected = record::PRINTF.to_le_bytes().to_vec();
    expected.extend(7u32.to_le_bytes());
    expected.extend(42u64.to_le_bytes());
    expected
}

/// Attach a getpid tracepoint program filtered to this process, call
/// getpid `n` times, and check the count and the records.
fn getpid_round_trip(output: MapKind) {
    let _serial = GETPID.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    let mut asm = Asm::default();
    asm.prologue().only_pid(pid).count();
    let insns = if output == MapKind::RingBuf {
        asm.send_ringbuf().finish()
    } else {
        asm.send_perf().finish()
    };
    let obj = object(output, vec![("tp_getpid", getpid_tracepoint(), insns)]);
    let loaded = load(&obj).unwrap();
    let id = prog_info(loaded.program_fd("tp_getpid").unwrap())
        .unwrap()
        .id;
    let mut reader = OutputReader::open(loaded.output_map().unwrap(), 8).unwrap();
    let attachment = attach(&loaded, "tp_getpid").unwrap();
    assert_eq!(attachment.point(), obj.programs[0].point);
    let n = 25;
    for _ in 0..n {
        std::hint::black_box(std::process::id());
    }
    assert_eq!(global_count(loaded.map(GLOBALS).unwrap()), 5 + n);
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while records.len() < n as usize && Instant::now() < deadline {
        reader.read(|r| records.push(r.to_vec()));
        if records.len() < n as usize {
            reader.wait(50).unwrap();
        }
    }
    assert_eq!(records.len(), n as usize);
    // Perf buffers pad raw samples to 8 bytes; the record is a prefix.
    assert!(
        records.iter().all(|r| r.starts_with(&record_bytes())),
        "{records:?}"
    );

    // Detach: no more counting.
    drop(attachment);
    std::hint::black_box(std::process::id());
    assert_eq!(global_count(loaded.map(GLOBALS).unwrap()), 5 + n);
    drop(reader);
    drop(loaded);
    assert_unloaded(&[id]);
}

#[test]
fn tracepoint_counts_getpid_through_a_ring_buffer() {
    if !kernel_available("tracepoint_counts_getpid_through_a_ring_buffer") {
        return;
    }
    getpid_round_trip(MapKind::RingBuf);
}

#[test]
fn tracepoint_counts_getpid_through_a_perf_event_array() {
    if !kernel_available("tracepoint_counts_getpid_through_a_perf_event_array") {
        return;
    }
    getpid_round_trip(MapKind::PerfEventArray);
}

#[test]
fn timer_fires_and_detaches() {
    if !kernel_available("timer_fires_and_detaches") {
        return;
    }
    for profile in [false, true] {
        let timer = ProbeKind::Timer {
            period_ns: 1_000_000,
            profile,
        };
        let obj = object(
            MapKind::RingBuf,
            vec![("timer_1", timer, Asm::default().prologue().count().finish())],
        );
        let loaded = load(&obj).unwrap();
        let id = prog_info(loaded.program_fd("timer_1").unwrap()).unwrap().id;
        let attachments = stapc_loader::attach_all(&loaded).unwrap();
        let online = stapc_loader::maps::online_cpus().unwrap().len();
        assert_eq!(attachments[0].events(), if profile { online } else { 1 });
        let globals = loaded.map(GLOBALS).unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        while global_count(globals) < 5 + 3 {
            assert!(
                Instant::now() < deadline,
                "the 1 ms timer did not fire 3 times in 3 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // The exit flag stops the counting without detaching.
        loaded.request_exit().unwrap();
        // A run that passed its check just before the flag was set may still count.
        std::thread::sleep(Duration::from_millis(5));
        let frozen = global_count(globals);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(global_count(globals), frozen);
        drop(attachments);
        drop(loaded);
        assert_unloaded(&[id]);
    }
}

#[inline(never)]
fn stapc_uprobe_target(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_mul(3).rotate_left(7))
}

#[test]
fn uprobe_on_a_function_of_this_binary() {
    if !kernel_available("uprobe_on_a_function_of_this_binary") {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    // The function's (mangled) symbol name.
    let data = std::fs::read(&exe).unwrap();
    let symbol = {
        use object::{Object as _, ObjectSymbol};
        let file = object::File::parse(&*data).unwrap();
        let found = file
            .symbols()
            .filter_map(|s| s.name().ok().map(str::to_string))
            .find(|n| n.contains("stapc_uprobe_target"));
        found.expect("the test binary has a symbol table")
    };
    // std::process::id() is a getpid(): keep it out of the getpid tests' counts.
    let _serial = GETPID.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    for ret in [false, true] {
        let kind = ProbeKind::Uprobe {
            path: exe.display().to_string(),
            symbol: symbol.clone(),
            ret,
        };
        let obj = object(
            MapKind::RingBuf,
            vec![(
                "uprobe_0",
                kind,
                Asm::default().prologue().only_pid(pid).count().finish(),
            )],
        );
        let loaded = load(&obj).unwrap();
        let attachment = match attach(&loaded, "uprobe_0") {
            Ok(a) => a,
            Err(AttachError::Failed {
                reason: AttachFailure::NoPmu { reason, .. },
                ..
            }) => {
                eprintln!("skipping uprobe_on_a_function_of_this_binary: {reason}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        for i in 0..10 {
            stapc_uprobe_target(i);
        }
        assert_eq!(
            global_count(loaded.map(GLOBALS).unwrap()),
            5 + 10,
            "ret={ret}"
        );
        drop(attachment);
        stapc_uprobe_target(0);
        assert_eq!(
            global_count(loaded.map(GLOBALS).unwrap()),
            5 + 10,
            "ret={ret}"
        );
    }
}

#[test]
fn missing_probe_points_are_clear_errors() {
    if !kernel_available("missing_probe_points_are_clear_errors") {
        return;
    }
    let body = || Asm::default().prologue().finish();
    let obj = object(
        MapKind::RingBuf,
        vec![
            (
                "kprobe_0",
                ProbeKind::Kprobe {
                    function: "vfs_read".into(),
                    ret: false,
                },
                body(),
            ),
            (
                "tp_1",
                ProbeKind::Tracepoint {
                    group: "syscalls".into(),
                    name: "sys_enter_nothing".into(),
                },
                body(),
            ),
            (
                "up_2",
                ProbeKind::Uprobe {
                    path: "/nonexistent/bin".into(),
                    symbol: "main".into(),
                    ret: false,
                },
                body(),
            ),
        ],
    );
    let loaded = load(&obj).unwrap();
    let kprobe_pmu = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    match attach(&loaded, "kprobe_0") {
        Ok(_) => assert!(kprobe_pmu),
        Err(e) => {
            assert!(!kprobe_pmu, "{e}");
            let text = e.to_string();
            assert!(text.starts_with("cannot attach probe Kprobe"), "{text}");
            assert!(text.contains("cannot create kprobe events"), "{text}");
        }
    }
    let serial = GETPID.lock().unwrap_or_else(|e| e.into_inner());
    let e = attach(&loaded, "tp_1").unwrap_err();
    drop(serial);
    assert!(
        e.to_string()
            .ends_with("the kernel has no tracepoint syscalls:sys_enter_nothing"),
        "{e}"
    );
    let e = attach(&loaded, "up_2").unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot read ELF file /nonexistent/bin"),
        "{e}"
    );
    assert!(matches!(
        attach(&loaded, "nope"),
        Err(AttachError::UnknownProgram { .. })
    ));
}

#[test]
fn raw_tracepoint_sees_our_syscalls() {
    if !kernel_available("raw_tracepoint_sees_our_syscalls") {
        return;
    }
    let _serial = GETPID.lock().unwrap_or_else(|e| e.into_inner());
    let insns = Asm::default()
        .prologue()
        .only_pid(std::process::id())
        .count()
        .finish();
    let obj = object(MapKind::RingBuf, vec![]);
    let loaded = load(&obj).unwrap();
    let fds: Vec<i32> = loaded
        .maps()
        .iter()
        .map(|m| std::os::fd::AsRawFd::as_raw_fd(&m.fd()))
        .collect();
    let patched = patch_map_fds("raw_tp", &insns, &fds).unwrap();
    let prog = load_program(&ProgramSpec {
        name: "raw_tp",
        point: "raw_tracepoint(sys_enter)",
        prog_type: ProgramType::RawTracepoint,
        expected_attach_type: 0,
        insns: &patched,
        license: "GPL",
        lines: None,
    })
    .unwrap();
    let link =
        stapc_loader::attach::attach_raw_tracepoint(std::os::fd::AsFd::as_fd(&prog), "sys_enter")
            .unwrap();
    for _ in 0..10 {
        std::hint::black_box(std::process::id());
    }
    drop(link);
    let seen = global_count(loaded.map(GLOBALS).unwrap());
    assert!(seen >= 5 + 10, "counted {} syscalls", seen - 5);
    std::hint::black_box(std::process::id());
    assert_eq!(
        global_count(loaded.map(GLOBALS).unwrap()),
        seen,
        "detached on drop"
    );
    let e =
        stapc_loader::attach::attach_raw_tracepoint(std::os::fd::AsFd::as_fd(&prog), "no_such_tp")
            .unwrap_err();
    assert_eq!(e.to_string(), "the kernel has no tracepoint raw:no_such_tp");
}

fn tracefs_mounts() -> usize {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("tracefs"))
        .count()
}

#[test]
fn tracefs_is_left_as_found() {
    if !kernel_available("tracefs_is_left_as_found") {
        return;
    }
    let _serial = GETPID.lock().unwrap_or_else(|e| e.into_inner());
    let before = tracefs_mounts();
    let id = stapc_loader::attach::tracepoint_id("syscalls", "sys_enter_getpid").unwrap();
    assert!(id > 0);
    assert_eq!(tracefs_mounts(), before, "tracefs mounts changed");
}
