//! The IR verifier. It checks, for every function:
//!
//! 1. the layout is non-empty, names only existing blocks, and names each once;
//! 2. the entry block (first in the layout) has no parameters;
//! 3. every block in the layout is non-empty, ends in exactly one terminator
//!    and has no terminator anywhere else;
//! 4. every instruction in a laid-out block exists and belongs to exactly one
//!    block;
//! 5. an instruction has a result value iff `InstData::has_result`, and the
//!    value's definition points back at it; block parameters' definitions
//!    point back at their block and index;
//! 6. branch targets exist, are in the layout, are not the entry block, and
//!    pass as many arguments as the target has parameters;
//! 7. every value read exists and is defined before use: in the same block by
//!    an earlier instruction or a parameter, or in a block that dominates the
//!    use (checked in reachable blocks; branch arguments are uses at the end
//!    of their block);
//! 8. every slot named exists;
//!
//! and, with the module (`verify_module`):
//!
//! 9. format and error indexes are in range of `Module::formats` / `errors`;
//! 10. `Printf` arguments match the format's `ArgKind`s in number and kind;
//! 11. global offsets lie inside the globals struct (8 bytes for a long,
//!     MAXSTRINGLEN for a string), longs 8-byte aligned;
//! 12. statistic and histogram indexes are in range of `Module::stats` /
//!     `hists`, and every histogram names an existing statistic that keeps
//!     its kind of buckets.
//!
//! Errors are data: where (function, block, instruction) and what.

use crate::cfg::Cfg;
use crate::ir::{Block, Function, Inst, InstData, Module, OutArg, Value, ValueDef};
use crate::print::inst_text;
use cranelift_entity::SecondaryMap;
use stapc_bpf::{ArgKind, ErrorMsg, Format};
use std::fmt;

/// Where a verifier error is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Function,
    Block(Block),
    Inst(Block, Inst),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierError {
    /// The function's name.
    pub function: String,
    pub location: Location,
    /// The offending instruction as text, when there is one.
    pub context: Option<String>,
    pub message: String,
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::Function => write!(f, "{}: {}", self.function, self.message)?,
            Location::Block(b) => write!(f, "{} {}: {}", self.function, b, self.message)?,
            Location::Inst(b, i) => write!(f, "{} {} {}: {}", self.function, b, i, self.message)?,
        }
        if let Some(c) = &self.context {
            write!(f, " (`{c}`)")?;
        }
        Ok(())
    }
}

/// What the module-level checks need.
struct ModuleInfo<'a> {
    formats: &'a [Format],
    errors: &'a [ErrorMsg],
    globals_size: u32,
    max_string_len: u32,
    arrays: &'a [crate::ir::ArrayInfo],
    stats: &'a [stapc_bpf::StatDesc],
    hists: &'a [stapc_bpf::HistDesc],
}

/// Check the function-local invariants (1–8).
pub fn verify_function(func: &Function) -> Result<(), Vec<VerifierError>> {
    let errs = Verifier::new(func, None).run();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// Check every function of a module, with the module-level invariants (1–12).
pub fn verify_module(module: &Module) -> Result<(), Vec<VerifierError>> {
    let info = ModuleInfo {
        formats: &module.formats,
        errors: &module.errors,
        globals_size: module.globals.size,
        max_string_len: module.max_string_len,
        arrays: &module.arrays,
        stats: &module.stats,
        hists: &module.hists,
    };
    let mut errs = Vec::new();
    for p in &module.probes {
        errs.extend(Verifier::new(&p.func, Some(&info)).run());
    }
    // ---- functions/strings ----
    for f in &module.functions {
        errs.extend(Verifier::new(f, Some(&info)).run());
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

struct Verifier<'a> {
    func: &'a Function,
    info: Option<&'a ModuleInfo<'a>>,
    errs: Vec<VerifierError>,
}

impl<'a> Verifier<'a> {
    fn new(func: &'a Function, info: Option<&'a ModuleInfo<'a>>) -> Self {
        Verifier {
            func,
            info,
            errs: Vec::new(),
        }
    }

    fn err(&mut self, location: Location, message: impl Into<String>) {
        let context = match location {
            Location::Inst(_, i) => self.func.insts.get(i).map(inst_text),
            _ => None,
        };
        self.errs.push(VerifierError {
            function: self.func.name.clone(),
            location,
            context,
            message: message.into(),
        });
    }

    fn run(mut self) -> Vec<VerifierError> {
        let f = self.func;
        // 1. layout
        let Some(entry) = f.entry() else {
            self.err(Location::Function, "the layout is empty (no entry block)");
            return self.errs;
        };
        let mut in_layout: SecondaryMap<Block, bool> = SecondaryMap::new();
        for &b in &f.layout {
            if f.blocks.get(b).is_none() {
                self.err(Location::Block(b), "block in the layout does not exist");
                return self.errs;
            }
            if in_layout[b] {
                self.err(Location::Block(b), "block appears twice in the layout");
            }
            in_layout[b] = true;
        }
        // 2. entry params
        if !f.blocks[entry].params.is_empty() {
            self.err(Location::Block(entry), "the entry block has parameters");
        }
        // 3–5 structure
        let mut owner: SecondaryMap<Inst, Option<Block>> = SecondaryMap::new();
        let mut position: SecondaryMap<Inst, u32> = SecondaryMap::new();
        for &b in &f.layout {
            let bd = &f.blocks[b];
            for (n, &p) in bd.params.iter().enumerate() {
                if f.values.get(p) != Some(&ValueDef::Param(b, n as u32)) {
                    self.err(
                        Location::Block(b),
                        format!("parameter {p} is not defined as parameter {n} of {b}"),
                    );
                }
            }
            if bd.insts.is_empty() {
                self.err(Location::Block(b), "block is empty (no terminator)");
                continue;
            }
            for (n, &i) in bd.insts.iter().enumerate() {
                let Some(data) = f.insts.get(i) else {
                    self.err(
                        Location::Block(b),
                        format!("instruction {i} does not exist"),
                    );
                    continue;
                };
                if let Some(other) = owner[i] {
                    self.err(
                        Location::Inst(b, i),
                        format!("instruction is also in {other}"),
                    );
                }
                owner[i] = Some(b);
                position[i] = n as u32;
                let last = n + 1 == bd.insts.len();
                if data.is_terminator() && !last {
                    self.err(Location::Inst(b, i), "terminator in the middle of a block");
                }
                if !data.is_terminator() && last {
                    self.err(Location::Inst(b, i), "block does not end in a terminator");
                }
                let result = f.results.get(i).and_then(|r| r.expand());
                match (data.has_result(), result) {
                    (true, None) => {
                        self.err(Location::Inst(b, i), "instruction has no result value")
                    }
                    (false, Some(v)) => self.err(
                        Location::Inst(b, i),
                        format!("instruction cannot have a result, has {v}"),
                    ),
                    (true, Some(v)) => {
                        if f.values.get(v) != Some(&ValueDef::Result(i)) {
                            self.err(
                                Location::Inst(b, i),
                                format!("result {v} is not defined by this instruction"),
                            );
                        }
                    }
                    (false, None) => {}
                }
            }
        }
        if !self.errs.is_empty() {
            return self.errs;
        }
        // 6. branch targets
        for &b in &f.layout {
            let bd = &f.blocks[b];
            let Some(&last) = bd.insts.last() else {
                continue;
            };
            for (_, dest, args) in f.insts[last].edges() {
                match f.blocks.get(dest) {
                    None => self.err(
                        Location::Inst(b, last),
                        format!("branch to {dest}, which does not exist"),
                    ),
                    Some(dd) => {
                        if !in_layout[dest] {
                            self.err(
                                Location::Inst(b, last),
                                format!("branch to {dest}, which is not in the layout"),
                            );
                        } else if dest == entry {
                            self.err(
                                Location::Inst(b, last),
                                format!("branch to the entry block {dest}"),
                            );
                        } else if dd.params.len() != args.len() {
                            self.err(
                                Location::Inst(b, last),
                                format!(
                                    "{} arguments passed to {dest}, which has {} parameters",
                                    args.len(),
                                    dd.params.len()
                                ),
                            );
                        }
                    }
                }
            }
        }
        if !self.errs.is_empty() {
            return self.errs;
        }
        // 7. def before use; 8. slots; 9–11 module checks
        let cfg = Cfg::compute(f);
        for &b in &f.layout {
            for (n, &i) in f.blocks[b].insts.iter().enumerate() {
                let data = &f.insts[i];
                for v in data.args() {
                    self.check_use(&cfg, b, n, i, v, &owner, &position, &in_layout);
                }
                for s in data.slots() {
                    if f.slots.get(s).is_none() {
                        self.err(Location::Inst(b, i), format!("slot {s} does not exist"));
                    }
                }
                if self.info.is_some() {
                    self.check_module_refs(b, i, data);
                }
            }
        }
        self.errs
    }

    #[allow(clippy::too_many_arguments)]
    fn check_use(
        &mut self,
        cfg: &Cfg,
        b: Block,
        n: usize,
        i: Inst,
        v: Value,
        owner: &SecondaryMap<Inst, Option<Block>>,
        position: &SecondaryMap<Inst, u32>,
        in_layout: &SecondaryMap<Block, bool>,
    ) {
        let f = self.func;
        let Some(def) = f.values.get(v) else {
            self.err(
                Location::Inst(b, i),
                format!("use of {v}, which does not exist"),
            );
            return;
        };
        let (def_block, def_pos) = match *def {
            ValueDef::Param(pb, idx) => {
                if !in_layout[pb] || f.blocks[pb].params.get(idx as usize) != Some(&v) {
                    self.err(
                        Location::Inst(b, i),
                        format!("use of {v}, a parameter of a block that does not have it"),
                    );
                    return;
                }
                (pb, None)
            }
            ValueDef::Result(di) => match owner.get(di).copied().flatten() {
                Some(db) => (db, Some(position[di] as usize)),
                None => {
                    self.err(
                        Location::Inst(b, i),
                        format!("use of {v}, whose instruction is not in any block"),
                    );
                    return;
                }
            },
        };
        if def_block == b {
            if let Some(p) = def_pos {
                if p >= n {
                    self.err(
                        Location::Inst(b, i),
                        format!("use of {v} before its definition"),
                    );
                }
            }
            return;
        }
        if cfg.is_reachable(b) && !cfg.dominates(def_block, b) {
            self.err(
                Location::Inst(b, i),
                format!("use of {v}, whose definition in {def_block} does not dominate {b}"),
            );
        }
    }

    fn check_module_refs(&mut self, b: Block, i: Inst, data: &InstData) {
        let Some(info) = self.info else { return };
        let long_fits = |off: u32| {
            off.is_multiple_of(8) && off.checked_add(8).is_some_and(|e| e <= info.globals_size)
        };
        let str_fits = |off: u32| {
            off.checked_add(info.max_string_len)
                .is_some_and(|e| e <= info.globals_size)
        };
        match data {
            InstData::Printf { format, args } | InstData::Sprintf { format, args, .. } => {
                match info.formats.get(*format as usize) {
                    None => self.err(
                        Location::Inst(b, i),
                        format!("format{format} does not exist"),
                    ),
                    Some(fmt) => {
                        let kinds: Vec<ArgKind> = args
                            .iter()
                            .map(|a| match a {
                                OutArg::Long(_) => ArgKind::Long,
                                OutArg::Str(_) => ArgKind::Str,
                            })
                            .collect();
                        if kinds != fmt.args {
                            self.err(
                                Location::Inst(b, i),
                                format!(
                                    "arguments {:?} do not match format{}'s {:?}",
                                    kinds, format, fmt.args
                                ),
                            );
                        }
                    }
                }
            }
            InstData::Trap { error } | InstData::TrapMsg { error, .. }
                if info.errors.get(*error as usize).is_none() =>
            {
                self.err(Location::Inst(b, i), format!("error{error} does not exist"));
            }
            InstData::LoadGlobal { offset }
            | InstData::StoreGlobal { offset, .. }
            | InstData::AtomicAddGlobal { offset, .. }
                if !long_fits(*offset) =>
            {
                self.err(
                    Location::Inst(b, i),
                    format!(
                        "long global at +{offset} is outside the {}-byte globals",
                        info.globals_size
                    ),
                );
            }
            // ---- arrays ----
            InstData::ArrayGet { array, key }
            | InstData::ArrayGetStr { array, key, .. }
            | InstData::ArraySet { array, key, .. }
            | InstData::ArraySetStr { array, key, .. }
            | InstData::ArrayAdd { array, key, .. }
            | InstData::ArrayIn { array, key }
            | InstData::ArrayDelete { array, key }
                if info.arrays.get(*array as usize).is_none_or(|a| {
                    self.func
                        .slots
                        .get(*key)
                        .is_none_or(|s| s.size < a.key_size(info.max_string_len))
                }) =>
            {
                self.err(
                    Location::Inst(b, i),
                    format!("array{array} does not exist or {key} is smaller than its key"),
                );
            }
            InstData::ArrayClear { array } | InstData::ArrayIterStart { array, .. }
                if info.arrays.get(*array as usize).is_none() =>
            {
                self.err(Location::Inst(b, i), format!("array{array} does not exist"));
            }
            InstData::StrLoadGlobal { offset, .. } | InstData::StrStoreGlobal { offset, .. }
                if !str_fits(*offset) =>
            {
                self.err(
                    Location::Inst(b, i),
                    format!(
                        "string global at +{offset} is outside the {}-byte globals",
                        info.globals_size
                    ),
                );
            }
            // ---- statistics ----
            InstData::StatAdd { stat, .. }
            | InstData::StatRead { stat, .. }
            | InstData::StatClear { stat }
                if info.stats.get(*stat as usize).is_none() =>
            {
                self.err(Location::Inst(b, i), format!("stat{stat} does not exist"));
            }
            InstData::PrintHist { hist, .. } => {
                let ok = info.hists.get(*hist as usize).is_some_and(|h| {
                    info.stats.get(h.stat as usize).is_some_and(|s| {
                        if h.linear {
                            s.linear.is_some()
                        } else {
                            s.log
                        }
                    })
                });
                if !ok {
                    self.err(
                        Location::Inst(b, i),
                        format!(
                            "hist{hist} does not exist or names a statistic without its buckets"
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

/// The function's listing with each error printed under its instruction
/// (errors about a block or the whole function come first).
pub fn annotate(func: &Function, errs: &[VerifierError]) -> String {
    let mut out = String::new();
    for e in errs {
        if !matches!(e.location, Location::Inst(..)) {
            out.push_str(&format!("; error: {e}\n"));
        }
    }
    out.push_str(&crate::print::print_function_annotated(func, &|inst| {
        errs.iter()
            .filter(|e| matches!(e.location, Location::Inst(_, i) if i == inst))
            .map(|e| format!("error: {}", e.message))
            .collect()
    }));
    out
}
