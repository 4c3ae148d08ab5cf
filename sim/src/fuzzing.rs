//! The bodies of the simulator's fuzz targets (fuzz/fuzz_targets/sim*.rs),
//! here so that `cargo test` runs every seed corpus file through exactly
//! the same code (sim/tests/fuzz_corpus.rs).

use crate::testgen::{self, RandomProgram};
use crate::{Code, Machine, MachineOptions, SessionOptions, SimMaps};
use bpf::insn::decode_all;
use bpf::{Insn, MapDef, MapKind};

fn map(kind: MapKind, key_size: u32, value_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        name: kind.name().to_string(),
        kind,
        key_size,
        value_size,
        max_entries,
        init: vec![],
    }
}

/// Arbitrary bytecode: the first byte picks options (conformance helpers,
/// how the program is entered), the rest, cut to whole instructions, is the
/// program. Every run must end in a result or an `ExecError`: no panic, no
/// hang (fuel bounds it).
pub fn bytecode(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let whole = rest.len() / 8 * 8;
    let Ok(prog) = decode_all(&rest[..whole]) else {
        return;
    };
    let maps = [
        map(MapKind::Array, 4, 16, 2),
        map(MapKind::Hash, 4, 8, 4),
        map(MapKind::RingBuf, 0, 0, 4096),
        map(MapKind::PerfEventArray, 4, 4, 0),
        map(MapKind::PerCpuArray, 4, 8, 1),
        map(MapKind::LruHash, 8, 8, 2),
        map(MapKind::PerCpuHash, 4, 4, 2),
    ];
    let Ok(store) = SimMaps::new(&maps, 2) else {
        return;
    };
    let opts = MachineOptions {
        fuel: 20_000,
        conformance: flags & 1 != 0,
        ..MachineOptions::default()
    };
    let mut m = Machine::new(Box::new(store), opts);
    let code = Code::new(&prog);
    match (flags >> 1) & 3 {
        0 => {
            let _ = m.run_with_memory(&code, None);
        }
        1 => {
            let _ = m.run_with_memory(&code, Some(&data[..data.len().min(64)]));
        }
        2 => {
            let _ = m.run(&code, &[0x5a; 168]);
        }
        _ => {
            // A map handle in r1, so helpers see real map arguments.
            let mut with_map = Insn::ld_map(1, u32::from(flags >> 3) % 8).to_vec();
            with_map.extend_from_slice(&prog);
            let _ = m.run(&Code::new(&with_map), &[]);
        }
    }
    // The same machine runs again after whatever the first run left behind.
    let _ = m.run_with_memory(&code, Some(&[1, 2, 3, 4, 5, 6, 7, 8]));
}

/// Bytes decoded through `testgen`: a program the kernel's verifier
/// accepts, so the simulator must run it without any error, and the fold
/// it stores must be the fold of the registers it stores.
pub fn generated(data: &[u8]) {
    let p = RandomProgram::from_bytes(data);
    let Ok(store) = SimMaps::new(&[], 1) else {
        return;
    };
    let mut m = Machine::new(Box::new(store), MachineOptions::default());
    let dump = match testgen::run_on_sim(&mut m, &p) {
        Ok(d) => d,
        Err(e) => panic!(
            "a verifier-valid program fails on the simulator: {e}\n{}",
            bpf::disasm::disasm_program(&p.insns(0))
        ),
    };
    let mut fold = dump[0];
    for &r in &dump[1..10] {
        fold = fold.wrapping_mul(1_000_003) ^ r;
    }
    assert_eq!(dump[10], fold, "the epilogue's fold");
}

/// Any text as an events file, then (when it parses) as the events of a
/// session of a small object with a timer and a kprobe: errors, never
/// panics.
pub fn events(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(evs) = crate::parse_events(text) else {
        return;
    };
    let obj = events_object();
    let opts = SessionOptions {
        duration_ns: 50_000_000,
        fuel: 10_000,
        events: Some(evs),
        ..SessionOptions::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let _ = crate::run(&obj, &opts, &mut out, &mut err);
}

/// Two kernel probes reading their context, pid and cpu into r0.
fn events_object() -> bpf::Object {
    use bpf::insn::*;
    use bpf::object::{control, map_names};
    use bpf::{Object, ProbeKind, Program};
    let body = vec![
        Insn::ldx(BPF_DW, 6, 1, 112),
        Insn::ldx(BPF_DW, 7, 1, 80),
        Insn::call(bpf::helpers::GET_CURRENT_PID_TGID),
        Insn::alu64_reg(BPF_ADD, 0, 6),
        Insn::alu64_reg(BPF_ADD, 0, 7),
        Insn::exit(),
    ];
    let prog = |name: &str, kind: ProbeKind, point: &str| Program {
        fields: Vec::new(),
        name: name.into(),
        kind,
        point: point.into(),
        insns: body.clone(),
        lines: vec![],
    };
    let mut control_map = map(MapKind::Array, 4, control::VALUE_SIZE, 1);
    control_map.name = map_names::CONTROL.into();
    Object {
        source_name: "fuzz.stp".into(),
        programs: vec![
            prog(
                "probe_0",
                ProbeKind::Kprobe {
                    function: "f".into(),
                    ret: false,
                },
                "kernel.function(\"f\")",
            ),
            prog(
                "probe_1",
                ProbeKind::Timer {
                    period_ns: 3_000_000,
                    profile: false,
                },
                "timer.ms(3)",
            ),
        ],
        maps: vec![control_map, map(MapKind::RingBuf, 0, 0, 4096)],
        formats: vec![],
        errors: vec![],
        max_string_len: 16,
        control_map: 0,
        output_map: 1,
        license: "GPL".into(),
        ..Default::default()
    }
}

/// Arbitrary bytecode through the mini-verifier: the first byte picks the
/// program type, the second the target kernel and privilege, the rest (cut
/// to whole instructions) is the program. Every input must end in a verdict,
/// never a panic; the instruction limits bound the work.
pub fn verifier(data: &[u8]) {
    use crate::verifier::{verify, VerifyOptions};
    use bpf::{KernelVersion, ProgramType, Target};
    let [kind, tgt, rest @ ..] = data else {
        return;
    };
    let whole = rest.len() / 8 * 8;
    let Ok(prog) = decode_all(&rest[..whole]) else {
        return;
    };
    let maps = [
        map(MapKind::Array, 4, 16, 2),
        map(MapKind::Hash, 4, 8, 4),
        map(MapKind::RingBuf, 0, 0, 4096),
        map(MapKind::PerfEventArray, 4, 4, 0),
        map(MapKind::PerCpuArray, 4, 8, 1),
    ];
    let prog_type = [
        ProgramType::SocketFilter,
        ProgramType::Kprobe,
        ProgramType::Tracepoint,
        ProgramType::PerfEvent,
        ProgramType::RawTracepoint,
        ProgramType::Syscall,
    ][usize::from(*kind) % 6];
    let kernel = [(4, 14), (5, 2), (5, 10), (5, 17), (6, 1), (6, 18)][usize::from(*tgt & 7) % 6];
    let mut target = Target::new(KernelVersion::new(kernel.0, kernel.1));
    target.privileged = tgt & 8 != 0;
    let opts = VerifyOptions {
        target,
        prog_type,
        userspace: tgt & 16 != 0,
    };
    let _ = verify(&prog, &maps, &opts);
}

/// Arbitrary bytes as an object file (what `stapc bpf disasm|run|verify`
/// and `--explain-verifier --kernel-log LOG OBJECT` read): the reader
/// returns an object or an error, never panics; an object it accepts
/// disassembles, writes, and reads back the same.
pub fn elf(data: &[u8]) {
    let Ok(obj) = bpf::elf::read(data) else {
        return;
    };
    for p in &obj.programs {
        let _ = bpf::disasm::disasm_program(&p.insns);
    }
    let bytes = bpf::elf::write(&obj).expect("an object read back can be written");
    let again = bpf::elf::read(&bytes).expect("a written object reads back");
    assert_eq!(again, obj, "the object changed on a write and read");
}
