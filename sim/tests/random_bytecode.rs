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
