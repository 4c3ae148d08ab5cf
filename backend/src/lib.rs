//! stapc backend: IR → VCode (isel) → registers (regalloc) → BPF (emit) → `bpf::Object`.
//!
//! - `compile(&Module, &Target, &SourceMap)` is what the driver calls: one
//!   program per probe point and the runtime maps of runtime.md, or every
//!   error as a `Diagnostic`.
//! - `compile_function` runs one `ir::Function` through every stage and
//!   returns each stage's result; `print_vcode` prints them for debugging.
//!   `compile_function_with` does the same for a function that uses
//!   statistics (`stat_descs` gives their maps).
//!
//! Statistics: after the four runtime maps, one per-CPU array map (one
//! entry) per statistic, laid out as `bpf::StatDesc` says; `Object::stats`
//! and `Object::hists` describe them. Kernel `s <<< v` updates the current
//! CPU's copy with plain loads and stores (count, sum, min, max, then a
//! branch-free log bucket and a bounded linear bucket); userspace reads
//! call `stapc_stat_read`/`stapc_stat_clear`, which merge every CPU.
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
use stapc_bpf::{Insn, LineEntry, MapDef, MapKind, Object, Program, StatDesc, Target};
use stapc_frontend::{Diagnostic, SourceMap};
use stapc_midend::ir::{Function, Module, ProbeFunction};

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
    compile_function_with(func, target, msl, userspace, &[], sm)
}

/// `compile_function` for a function that uses statistics: `stats` are the
/// module's statistics with their map indexes (see `stat_descs`).
pub fn compile_function_with(
    func: &Function,
    target: &Target,
    msl: u32,
    userspace: bool,
    stats: &[StatDesc],
    sm: &SourceMap,
) -> Result<CompiledFunction, BackendError> {
    let layout = isel::scratch_layout(func, msl, userspace)?;
    let stages = |far: bool| -> Result<_, BackendError> {
        let vcode = isel::lower_full(func, target, msl, userspace, &layout, far, stats)?;
        let alloc = regalloc::allocate(&vcode, target.stack_size())?;
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

// ---- statistics ----

/// The module's statistics with their maps: one per-CPU array map each
/// (one entry), numbered from `first_map` in statistic order.
pub fn stat_descs(module: &Module, first_map: u32) -> Vec<StatDesc> {
    module
        .stats
        .iter()
        .enumerate()
        .map(|(i, s)| StatDesc {
            map: first_map + i as u32,
            ..s.clone()
        })
        .collect()
}

/// The map of a statistic (see `stat_descs`): count, sum, min, max and the
/// buckets it keeps, per CPU.
fn stat_map(desc: &StatDesc) -> MapDef {
    MapDef {
        name: format!("stat_{}", desc.name),
        kind: MapKind::PerCpuArray,
        key_size: 4,
        value_size: desc.value_size(),
        max_entries: 1,
        init: Vec::new(),
    }
}

fn compile_probe(
    p: &ProbeFunction,
    module: &Module,
    stats: &[StatDesc],
    target: &Target,
    sm: &SourceMap,
) -> Result<(Program, u32), BackendError> {
    let c = compile_function_with(
        &p.func,
        target,
        module.max_string_len,
        p.kind.is_userspace(),
        stats,
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
    // The runtime maps come first (runtime.md), then one per statistic.
    let stats = stat_descs(module, isel::MAP_OUTPUT + 1);
    for p in &module.probes {
        match compile_probe(p, module, &stats, target, sm) {
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
    let mut maps = vec![
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
    maps.extend(stats.iter().map(stat_map));
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
        stats,
        hists: module.hists.clone(),
        ..Default::default()
    })
}

/// The VCode of every probe, before and after register allocation, and
/// the BPF it becomes.
pub fn print_vcode(module: &Module, target: &Target) -> Result<String, Vec<Diagnostic>> {
    let mut out = String::new();
    let mut errors = Vec::new();
    let sm = SourceMap::new();
    let stats = stat_descs(module, isel::MAP_OUTPUT + 1);
    let stat_names: Vec<String> = stats.iter().map(|s| stat_map(s).name).collect();
    for p in &module.probes {
        match compile_function_with(
            &p.func,
            target,
            module.max_string_len,
            p.kind.is_userspace(),
            &stats,
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
                    |i| {
                        names.get(i as usize).copied().or_else(|| {
                            let k = (i as usize).checked_sub(names.len())?;
                            stat_names.get(k).map(String::as_str)
                        })
                    },
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
