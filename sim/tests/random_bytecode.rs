//! Property: any bytecode whatsoever runs to a result or an error, never a
//! panic or a hang (fuel bounds every run).

mod common;

use bpf::insn::*;
use bpf::{Insn, MapKind};
use common::map;
use proptest::prelude::*;
use stapc_sim::{Code, Machine, MachineOptions, SimMaps};

/// Opcodes worth hitting often (every valid class/op combination family).
const CODES: &[u8] = &[
    0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f,
    0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0xd7, 0xd4, 0xdc, 0x04, 0x0c, 0x34, 0x3c,
    0x94, 0x9c, 0xb4, 0xbc, 0x05, 0x06, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x45, 0x55, 0x65, 0x6d, 0x75,
    0xa5, 0xb5, 0xc5, 0xd5, 0x16, 0x1e, 0x85, 0x8d, 0x95, 0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89,
    0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0x20, 0x40,
];

fn insn() -> impl Strategy<Value = Insn> {
    let code = prop_oneof![3 => proptest::sample::select(CODES), 1 => any::<u8>()];
    let reg = prop_oneof![4 => 0u8..=10, 1 => 0u8..=15];
    let off = prop_oneof![3 => -16i16..16, 1 => any::<i16>(), 1 => -520i16..0];
    let imm = prop_oneof![
        3 => -16i32..16,
        1 => any::<i32>(),
        1 => proptest::sample::select(vec![1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 25, 45, 112, 113, 114, 115, 130, 131, 132, 133, 164, 181, 0x1001, 0x1002, 0xe1, 0xf1, 0x01, 0x41, 0x51, 0xa1]),
    ];
    (code, reg.clone(), reg, off, imm).prop_map(|(c, d, s, o, i)| Insn::new(c, d, s, o, i))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn random_programs_never_panic(prog in proptest::collection::vec(insn(), 1..48), conformance: bool, input: Option<Vec<u8>>) {
        let maps = [
            map(MapKind::Array, 4, 16, 2),
            map(MapKind::Hash, 4, 8, 4),
            map(MapKind::RingBuf, 0, 0, 4096),
            map(MapKind::PerfEventArray, 4, 4, 0),
            map(MapKind::PerCpuArray, 4, 8, 1),
        ];
        let mut m = Machine::new(
            Box::new(SimMaps::new(&maps, 2).unwrap()),
            MachineOptions { fuel: 5_000, conformance, ..MachineOptions::default() },
        );
        let code = Code::new(&prog);
        let _ = m.run_with_memory(&code, input.as_deref());
        let _ = m.run(&code, &[0; 32]);
        // Maps in the first slot, to reach helpers with real map arguments.
        let mut with_map = Insn::ld_map(1, (prog[0].imm as u32) % 6).to_vec();
        with_map.extend_from_slice(&prog);
        let _ = m.run(&Code::new(&with_map), &[]);
    }
}

#[test]
fn jump_offsets_at_the_edges() {
    let p = [
        Insn::new(BPF_JMP32 | BPF_JA, 0, 0, 0, i32::MIN),
        Insn::ja(i16::MIN),
        Insn::ja(i16::MAX),
        Insn::exit(),
    ];
    let mut m = Machine::new(
        Box::new(SimMaps::new(&[], 1).unwrap()),
        MachineOptions::default(),
    );
    assert!(m.run_with_memory(&Code::new(&p), None).is_err());
}

fn object(progs: Vec<(u8, Vec<Insn>)>, fmt: Vec<u8>) -> bpf::Object {
    use bpf::{ArgKind, Format, ProbeKind, Program};
    let m = |name: &str, kind, key_size, value_size, max_entries| bpf::MapDef {
        name: name.into(),
        kind,
        key_size,
        value_size,
        max_entries,
        init: vec![],
    };
    let programs = progs
        .into_iter()
        .enumerate()
        .map(|(i, (k, insns))| Program {
            fields: Vec::new(),
            name: format!("p{i}"),
            kind: match k % 5 {
                0 => ProbeKind::Begin {
                    priority: (k / 5) as i64,
                },
                1 => ProbeKind::End { priority: 0 },
                2 => ProbeKind::Error { priority: 0 },
                3 => ProbeKind::Timer {
                    period_ns: 1_000_000 * (k as u64 / 5 + 1),
                    profile: k > 128,
                },
                _ => ProbeKind::Tracepoint {
                    group: "g".into(),
                    name: "n".into(),
                },
            },
            point: "p".into(),
            insns,
            lines: vec![],
        })
        .collect();
    bpf::Object {
        source_name: "r.stp".into(),
        programs,
        maps: vec![
            m("g", MapKind::Array, 4, 64, 1),
            m("c", MapKind::Array, 4, 16, 1),
            m("s", MapKind::PerCpuArray, 4, 128, 1),
            m("o", MapKind::RingBuf, 0, 0, 4096),
        ],
        formats: vec![Format {
            text: String::from_utf8_lossy(&fmt).into_owned(),
            args: vec![ArgKind::Long, ArgKind::Str],
        }],
        errors: vec![bpf::ErrorMsg {
            message: "m".into(),
            location: "l".into(),
        }],
        max_string_len: 16,
        control_map: 1,
        output_map: 3,
        license: "GPL".into(),
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn random_sessions_never_panic(
        progs in proptest::collection::vec((any::<u8>(), proptest::collection::vec(insn(), 1..24)), 1..5),
        fmt in proptest::collection::vec(any::<u8>(), 0..12),
        cpus in 0u32..4,
    ) {
        // Give each program a real output map and scratch pointer in r1/r2
        // so random code reaches the record path now and then.
        let progs = progs
            .into_iter()
            .map(|(k, body)| {
                let mut p = Vec::new();
                p.extend_from_slice(&Insn::ld_map(1, 3));
                p.extend_from_slice(&[
                    Insn::st(BPF_W, 10, -16, (k % 4) as i32),
                    Insn::st(BPF_W, 10, -12, 0),
                    Insn::mov64_reg(2, 10),
                    Insn::alu64_imm(BPF_ADD, 2, -16),
                    Insn::mov64_imm(3, 8 + (k as i32 % 40)),
                    Insn::mov64_imm(4, 0),
                    Insn::call(bpf::helpers::RINGBUF_OUTPUT),
                ]);
                p.extend(body);
                (k, p)
            })
            .collect();
        let obj = object(progs, fmt);
        let opts = stapc_sim::SessionOptions { duration_ns: 5_000_000, fuel: 2_000, cpus, ..Default::default() };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let _ = stapc_sim::run(&obj, &opts, &mut out, &mut err);
    }
}
