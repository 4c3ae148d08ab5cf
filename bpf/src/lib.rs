//! The BPF target itself: the instruction encoding, the disassembler, the
//! assembler for the bpf_conformance syntax and its `.data` files, the
//! helper and program-type tables, the `Target` kernel description, the
//! `Object` a compiled script is, and its ELF form.
//!
//! backend writes these types, sim executes and verifies them, loader loads
//! them; none of those crates depends on another.
#![forbid(unsafe_code)]

pub mod asm;
pub mod conformance;
pub mod disasm;
pub mod elf;
pub mod helpers;
pub mod insn;
pub mod object;
pub mod target;

pub use insn::Insn;
pub use object::{
    ArgKind, ArrayDesc, CtxField, ErrorMsg, Format, HistDesc, LineEntry, MapDef, MapKind, Object,
    ProbeKind, Program, ProgramType, StatDesc,
};
pub use target::{KernelVersion, Target};
