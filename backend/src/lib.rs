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
//! Functions of `Module::functions` (recursive script functions) are
//! compiled once (`compile_function_full(.., Some((base, depth)))`: r1 =
//! ctx, r2.. = arguments, scratch frames after every probe's, one per call
//! depth) and appended to each program that calls one (`link_functions`
//! patches `call` with src = BPF_PSEUDO_CALL to relative offsets).
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
use stapc_bpf::{ArrayDesc, Insn, LineEntry, MapDef, MapKind, Object, Program, StatDesc, Target};
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
    compile_function_full(func, target, msl, userspace, &[], &[], sm, None)
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
    compile_function_full(func, target, msl, userspace, stats, &[], sm, None)
}

/// `compile_function` for a function of a module with arrays but no
/// statistics (`Module::arrays`; their maps follow the four runtime maps).
pub fn compile_function_in(
    func: &Function,
    arrays: &[ArrayInfo],
    target: &Target,
    msl: u32,
    userspace: bool,
    sm: &SourceMap,
) -> Result<CompiledFunction, BackendError> {
    compile_function_full(func, target, msl, userspace, &[], arrays, sm, None)
}

/// `compile_function` with the module's statistics (see `stat_descs`) and
/// arrays (`Module::arrays`, whose maps follow the statistics' maps).
/// `callee = Some((base, depth))` compiles a function of `Module::functions`
/// whose scratch memory starts at byte `base` (after every probe's, so a call
/// never overwrites its caller's strings), one frame per call depth up to
/// `depth`.
#[allow(clippy::too_many_arguments)]
pub fn compile_function_full(
    func: &Function,
    target: &Target,
    msl: u32,
    userspace: bool,
    stats: &[StatDesc],
    arrays: &[ArrayInfo],
    sm: &SourceMap,
    callee: Option<(u32, u32)>,
) -> Result<CompiledFunction, BackendError> {
    let mut layout = isel::scratch_layout(func, msl, userspace)?;
    layout.arrays = arrays.to_vec();
    layout.array_map_base = isel::MAP_OUTPUT + 1 + stats.len() as u32;
    // ---- statistics ----
    // New elements of arrays of statistics are inserted from a buffer at the
    // end of this program's scratch, zero-filled right before each use.
    let zero = func
        .layout
        .iter()
        .filter_map(|&b| func.blocks.get(b))
        .flat_map(|b| &b.insts)
        .filter_map(|&i| match func.insts.get(i) {
            Some(stapc_midend::ir::InstData::StatAdd {
                stat, key: Some(_), ..
            }) => stats.get(*stat as usize).map(StatDesc::value_size),
            _ => None,
        })
        .max();
    if let Some(size) = zero {
        layout.zero_off = layout.size.div_ceil(8) * 8;
        layout.zero_size = size.div_ceil(8) * 8;
        layout.size = layout.zero_off + layout.zero_size;
    }
    if let Some((base, frames)) = callee {
        // Frame d (the call depth, 1..=frames) of a called function is at
        // base + d * frame: its strings are its own at every depth.
        let frame = layout.size.div_ceil(8) * 8;
        layout.frame_size = frame;
        layout.max_depth = frames;
        for (_, off) in layout.slot_off.iter_mut() {
            *off += base;
        }
        layout.record_off += base;
        layout.tmp_off += base;
        let total = u64::from(base) + (u64::from(frames) + 1) * u64::from(frame);
        layout.size = u32::try_from(total).map_err(|_| BackendError::OffsetTooLarge {
            func: func.name.clone(),
            offset: total,
        })?;
    }
    let stages = |far: bool| -> Result<_, BackendError> {
        let vcode = isel::lower_function(
            func,
            target,
            msl,
            userspace,
            &layout,
            far,
            stats,
            callee.is_some(),
        )?;
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

/// The map of statistic `index` (see `stat_descs`): count, sum, min, max
/// and the buckets it keeps, per CPU; for an array of statistics, a per-CPU
/// hash map keyed by the array's packed key, as large as the array.
fn stat_map(index: usize, desc: &StatDesc, module: &Module) -> MapDef {
    let array = module.arrays.iter().find(|a| a.stat == Some(index as u32));
    match array {
        Some(a) => MapDef {
            name: format!("stat_{}", desc.name),
            kind: MapKind::PerCpuHash,
            key_size: a.key_size(module.max_string_len).max(1),
            value_size: desc.value_size(),
            max_entries: a.max_entries,
            init: Vec::new(),
        },
        None => MapDef {
            name: format!("stat_{}", desc.name),
            kind: MapKind::PerCpuArray,
            key_size: 4,
            value_size: desc.value_size(),
            max_entries: 1,
            init: Vec::new(),
        },
    }
}

fn compile_probe(
    p: &ProbeFunction,
    module: &Module,
    stats: &[StatDesc],
    target: &Target,
    sm: &SourceMap,
) -> Result<(Program, u32), BackendError> {
    let c = compile_function_full(
        &p.func,
        target,
        module.max_string_len,
        p.kind.is_userspace(),
        stats,
        &module.arrays,
        sm,
        None,
    )?;
    Ok((
        Program {
            name: p.func.name.clone(),
            kind: p.kind.clone(),
            point: p.point.clone(),
            insns: c.insns,
            lines: c.lines,
            fields: p.func.ctx_fields.clone(),
        },
        c.scratch_size,
    ))
}

// ---- functions/strings ----

fn is_local_call(i: &Insn) -> bool {
    i.code == stapc_bpf::insn::BPF_JMP | stapc_bpf::insn::BPF_CALL
        && i.src == stapc_bpf::insn::BPF_PSEUDO_CALL
}

/// Append every compiled function to `p` when it calls one, and turn each
/// BPF-to-BPF call's function index into its offset (`target - (pc + 1)`).
pub fn link_functions(p: &mut Program, bodies: &[CompiledFunction]) -> Result<(), BackendError> {
    if !p.insns.iter().any(is_local_call) {
        return Ok(());
    }
    let mut starts = Vec::with_capacity(bodies.len());
    for b in bodies {
        starts.push(p.insns.len());
        let at = p.insns.len() as u32;
        p.insns.extend(b.insns.iter().copied());
        p.lines.extend(b.lines.iter().map(|l| LineEntry {
            insn: l.insn + at,
            ..*l
        }));
    }
    for pc in 0..p.insns.len() {
        let i = p.insns[pc];
        if !is_local_call(&i) {
            continue;
        }
        let start = usize::try_from(i.imm)
            .ok()
            .and_then(|f| starts.get(f).copied())
            .ok_or_else(|| BackendError::MalformedIr {
                func: p.name.clone(),
                what: format!("call of function {} that does not exist", i.imm),
            })?;
        let rel = start as i64 - (pc as i64 + 1);
        p.insns[pc].imm = i32::try_from(rel).map_err(|_| BackendError::MalformedIr {
            func: p.name.clone(),
            what: "function call offset out of range".into(),
        })?;
    }
    Ok(())
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
    // ---- functions/strings ----
    // Functions of `Module::functions` (recursive script functions, called
    // from userspace programs only) are compiled once, with their scratch
    // after every probe's, and appended to each program that calls one.
    let base = scratch.div_ceil(8) * 8;
    let mut bodies = Vec::new();
    for f in &module.functions {
        // MAXNESTING + 1: the call one level too deep still runs its check.
        let depth = module.max_nesting.clamp(1, 1000) + 1;
        match compile_function_full(
            f,
            target,
            module.max_string_len,
            true,
            &stats,
            &module.arrays,
            sm,
            Some((base, depth)),
        ) {
            Ok(c) => {
                scratch = scratch.max(c.scratch_size);
                bodies.push(c);
            }
            Err(e) => {
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
    for p in &mut programs {
        if let Err(e) = link_functions(p, &bodies) {
            errors.push(e.to_diagnostic_at(None));
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
    maps.extend(
        stats
            .iter()
            .enumerate()
            .map(|(i, s)| stat_map(i, s, module)),
    );
    // ---- arrays ----
    let mut arrays = Vec::new();
    for a in &module.arrays {
        let msl = module.max_string_len;
        if let Some(s) = a.stat {
            // An array of statistics is its statistic's map.
            arrays.push(ArrayDesc {
                name: a.name.clone(),
                map: stats.get(s as usize).map_or(0, |d| d.map),
                keys: a.keys.clone(),
                value: None,
                stat: Some(s),
            });
            continue;
        }
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
        stats,
        hists: module.hists.clone(),
    })
}

/// The VCode of every probe, before and after register allocation, and
/// the BPF it becomes.
pub fn print_vcode(module: &Module, target: &Target) -> Result<String, Vec<Diagnostic>> {
    let mut out = String::new();
    let mut errors = Vec::new();
    let sm = SourceMap::new();
    let stats = stat_descs(module, isel::MAP_OUTPUT + 1);
    let stat_names: Vec<String> = stats
        .iter()
        .enumerate()
        .map(|(i, s)| stat_map(i, s, module).name)
        .collect();
    for p in &module.probes {
        match compile_function_full(
            &p.func,
            target,
            module.max_string_len,
            p.kind.is_userspace(),
            &stats,
            &module.arrays,
            &sm,
            None,
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
