//! stapc backend: IR → VCode (isel) → registers (regalloc) → BPF (emit) → `bpf::Object`.
//!
//! - `compile(&Module, &Target, &SourceMap)` is what the driver calls: one
//!   program per probe point and the runtime maps of runtime.md, or every
//!   error as a `Diagnostic`.
//! - `compile_function` runs one `ir::Function` through every stage and
//!   returns each stage's result; `print_vcode` prints them for debugging.
//!   `compile_function_in` does the same for a function of a module with
//!   arrays (`Module::arrays`: one hash map each, after the runtime maps;
//!   `Object::arrays` describes them). Array keys and values are passed to
//!   the map helpers from scratch, or on kernels before 4.18 (whose map
//!   helpers take only stack pointers) from the bottom of the stack frame
//!   (`VCode::stack_buffer`).
//!
//! Stages: `isel` (instruction selection on virtual registers, `vcode`),
//! `regalloc` (linear scan with spilling), `checker` (proves the allocation,
//! always in debug builds), `emit` (branch resolution and relaxation, line
//! table). Every emitted program ends in `exit`, has no unreachable
//! instruction, never writes r10 and uses at most 512 bytes of stack;
//! kernel programs also fit the target's instruction limit.
#![forbid(unsafe_code)]

pub mod checker;
pub mod emit;
pub mod error;
pub mod isel;
pub mod regalloc;
pub mod vcode;

use stapc_bpf::object::{control, map_names};
use stapc_bpf::{ArrayDesc, Insn, LineEntry, MapDef, MapKind, Object, Program, Target};
use stapc_frontend::{Diagnostic, SourceMap};
use stapc_midend::ir::{ArrayInfo, Function, Module, ProbeFunction};

pub use error::BackendError;
pub use regalloc::Allocation;
pub use vcode::VCode;

/// One function through every stage.
#[derive(Clone, Debug)]
pub struct CompiledFunction {
    pub vcode: VCode,
    pub alloc: Allocation,
    pub insns: Vec<Insn>,
    pub lines: Vec<LineEntry>,
    /// Bytes of per-CPU scratch this program uses.
    pub scratch_size: u32,
}

/// Compile one function. `userspace` selects stapc's own string helpers
/// (begin/end/error programs run on the simulator).
pub fn compile_function(
    func: &Function,
    target: &Target,
    msl: u32,
    userspace: bool,
    sm: &SourceMap,
) -> Result<CompiledFunction, BackendError> {
    compile_function_in(func, &[], target, msl, userspace, sm)
}

/// `compile_function` for a function of a module with arrays
/// (`Module::arrays`; their maps follow the four runtime maps).
pub fn compile_function_in(
    func: &Function,
    arrays: &[ArrayInfo],
    target: &Target,
    msl: u32,
    userspace: bool,
    sm: &SourceMap,
) -> Result<CompiledFunction, BackendError> {
    let mut layout = isel::scratch_layout(func, msl, userspace)?;
    layout.arrays = arrays.to_vec();
    let stages = |far: bool| -> Result<_, BackendError> {
        let vcode = isel::lower_with(func, target, msl, userspace, &layout, far)?;
        let alloc = regalloc::allocate(
            &vcode,
            target.stack_size().saturating_sub(vcode.stack_buffer),
        )?;
        if cfg!(debug_assertions) {
            checker::check(&alloc)?;
        }
        let (insns, lines) = emit::emit(&alloc, sm, target.has_isa_v4())?;
        Ok((vcode, alloc, insns, lines))
    };
    // Programs longer than a 16-bit jump need their returns near every
    // block that takes them; only then is it worth the extra instructions.
    let (vcode, alloc, insns, lines) = match stages(false) {
        Err(BackendError::BranchOutOfRange { .. }) => stages(true)?,
        r => r?,
    };
    if !userspace && insns.len() > target.insn_limit() as usize {
        let span = func
            .entry()
            .and_then(|b| func.blocks.get(b)?.insts.first())
            .map(|i| func.srclocs[*i]);
        return Err(BackendError::TooManyInsns {
            func: func.name.clone(),
            insns: insns.len(),
            limit: target.insn_limit(),
            span,
        });
    }
    Ok(CompiledFunction {
        vcode,
        alloc,
        insns,
        lines,
        scratch_size: layout.size,
    })
}

fn compile_probe(
    p: &ProbeFunction,
    module: &Module,
    target: &Target,
    sm: &SourceMap,
) -> Result<(Program, u32), BackendError> {
    let c = compile_function_in(
        &p.func,
        &module.arrays,
        target,
        module.max_string_len,
        p.kind.is_userspace(),
        sm,
    )?;
    Ok((
        Program {
            name: p.func.name.clone(),
            kind: p.kind.clone(),
            point: p.point.clone(),
            insns: c.insns,
            lines: c.lines,
        },
        c.scratch_size,
    ))
}

/// Compile a whole module into an object (runtime.md's maps and programs).
pub fn compile(
    module: &Module,
    target: &Target,
    sm: &SourceMap,
) -> Result<Object, Vec<Diagnostic>> {
    let mut programs = Vec::new();
    let mut errors = Vec::new();
    let mut scratch = 8u32;
    for p in &module.probes {
        match compile_probe(p, module, target, sm) {
            Ok((prog, size)) => {
                scratch = scratch.max(size);
                programs.push(prog);
            }
            Err(e) => {
                let f = &p.func;
                let span = f
                    .entry()
                    .and_then(|b| f.blocks.get(b)?.insts.first())
                    .map(|i| f.srclocs[*i]);
                errors.push(e.to_diagnostic_at(span));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let gsize = module.globals.size.max(8).div_ceil(8) * 8;
    let mut ginit = module.globals.init.clone();
    ginit.resize(gsize as usize, 0);
    let output = if target.has_ringbuf() {
        MapDef {
            name: map_names::OUTPUT.into(),
            kind: MapKind::RingBuf,
            key_size: 0,
            value_size: 0,
            max_entries: 262_144,
            init: Vec::new(),
        }
    } else {
        MapDef {
            name: map_names::OUTPUT.into(),
            kind: MapKind::PerfEventArray,
            key_size: 4,
            value_size: 4,
            max_entries: 0,
            init: Vec::new(),
        }
    };
    let maps = vec![
        MapDef {
            name: map_names::GLOBALS.into(),
            kind: MapKind::Array,
            key_size: 4,
            value_size: gsize,
            max_entries: 1,
            init: vec![(0u32.to_le_bytes().to_vec(), ginit)],
        },
        MapDef {
            name: map_names::CONTROL.into(),
            kind: MapKind::Array,
            key_size: 4,
            value_size: control::VALUE_SIZE,
            max_entries: 1,
            init: Vec::new(),
        },
        MapDef {
            name: map_names::SCRATCH.into(),
            kind: MapKind::PerCpuArray,
            key_size: 4,
            value_size: scratch.div_ceil(8) * 8,
            max_entries: 1,
            init: Vec::new(),
        },
        output,
    ];
    // ---- arrays ----
    let mut maps = maps;
    let mut arrays = Vec::new();
    for a in &module.arrays {
        let msl = module.max_string_len;
        arrays.push(ArrayDesc {
            name: a.name.clone(),
            map: maps.len() as u32,
            keys: a.keys.clone(),
            value: Some(a.value),
            stat: None,
        });
        maps.push(MapDef {
            name: format!("a_{}", a.name),
            kind: MapKind::Hash,
            key_size: a.key_size(msl).max(1),
            value_size: a.value_size(msl),
            max_entries: a.max_entries,
            init: Vec::new(),
        });
    }
    Ok(Object {
        source_name: module.source_name.clone(),
        programs,
        maps,
        formats: module.formats.clone(),
        errors: module.errors.clone(),
        max_string_len: module.max_string_len,
        control_map: isel::MAP_CONTROL,
        output_map: isel::MAP_OUTPUT,
        license: "GPL".into(),
        arrays,
        ..Default::default()
    })
}

/// The VCode of every probe, before and after register allocation, and
/// the BPF it becomes.
pub fn print_vcode(module: &Module, target: &Target) -> Result<String, Vec<Diagnostic>> {
    let mut out = String::new();
    let mut errors = Vec::new();
    let sm = SourceMap::new();
    for p in &module.probes {
        match compile_function_in(
            &p.func,
            &module.arrays,
            target,
            module.max_string_len,
            p.kind.is_userspace(),
            &sm,
        ) {
            Ok(c) => {
                out.push_str(&c.vcode.to_string());
                out.push_str(&format!(
                    "; allocated ({} spill slots, {} bytes of stack)\n",
                    c.alloc.spill_slots,
                    c.alloc.stack_size()
                ));
                out.push_str(&c.alloc.physical().to_string());
                let names = [
                    map_names::GLOBALS,
                    map_names::CONTROL,
                    map_names::SCRATCH,
                    map_names::OUTPUT,
                ];
                out.push_str(&format!("; {} BPF instructions\n", c.insns.len()));
                out.push_str(&stapc_bpf::disasm::disasm_program_with_maps(
                    &c.insns,
                    |i| names.get(i as usize).copied(),
                ));
            }
            Err(e) => errors.push(e.to_diagnostic()),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
