//! Shared helpers for the simulator's tests: build programs by hand from
//! `bpf::Insn` constructors and run them.
#![allow(dead_code)]

use bpf::insn::*;
use bpf::{Insn, MapDef, MapKind};
use stapc_sim::{Code, ExecError, Machine, MachineOptions, SimMaps};

/// Flatten instructions and `[Insn; 2]` lddw pairs into one program.
#[macro_export]
macro_rules! prog {
    ($($e:expr),* $(,)?) => {{
        let mut v: Vec<bpf::Insn> = Vec::new();
        $( $crate::common::Push::push_to($e, &mut v); )*
        v
    }};
}

pub trait Push {
    fn push_to(self, v: &mut Vec<Insn>);
}
impl Push for Insn {
    fn push_to(self, v: &mut Vec<Insn>) {
        v.push(self)
    }
}
impl Push for [Insn; 2] {
    fn push_to(self, v: &mut Vec<Insn>) {
        v.extend_from_slice(&self)
    }
}
impl Push for Vec<Insn> {
    fn push_to(self, v: &mut Vec<Insn>) {
        v.extend(self)
    }
}

pub fn map(kind: MapKind, key: u32, value: u32, max: u32) -> MapDef {
    MapDef {
        name: "m".into(),
        kind,
        key_size: key,
        value_size: value,
        max_entries: max,
        init: vec![],
    }
}

pub fn machine(maps: &[MapDef]) -> Machine {
    Machine::new(
        Box::new(SimMaps::new(maps, 1).unwrap()),
        MachineOptions::default(),
    )
}

/// Run a map-less program with no input; r0 or the error.
pub fn exec(insns: &[Insn]) -> Result<u64, ExecError> {
    let mut m = machine(&[]);
    m.run_with_memory(&Code::new(insns), None).map(|o| o.r0)
}

pub fn run(insns: &[Insn]) -> u64 {
    match exec(insns) {
        Ok(v) => v,
        Err(e) => panic!("program failed: {e}"),
    }
}

/// `r0 = a; rX = b; r0 OP= rX; exit` style programs.
pub fn alu64(op: u8, a: i64, b: i64) -> u64 {
    run(&prog![
        Insn::lddw(0, a),
        Insn::lddw(1, b),
        Insn::alu64_reg(op, 0, 1),
        Insn::exit()
    ])
}

pub fn alu32(op: u8, a: i64, b: i64) -> u64 {
    run(&prog![
        Insn::lddw(0, a),
        Insn::lddw(1, b),
        Insn::alu32_reg(op, 0, 1),
        Insn::exit()
    ])
}

pub const fn mov32_imm(dst: u8, imm: i32) -> Insn {
    Insn::alu32_imm(BPF_MOV, dst, imm)
}

pub mod builder;
