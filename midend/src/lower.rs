//! Lowering: the resolved `Script` → `Module`, one SSA `Function` per probe
//! point. Long locals become SSA values by Braun et al.'s on-the-fly SSA
//! construction (sealed blocks, block parameters as phis, so loops work);
//! string locals live in one slot each and string temporaries in slots
//! reused statement by statement. Runtime checks (division by zero, shift
//! amounts) become explicit branches to `Trap` blocks. Whatever the IR cannot
//! express yet is a diagnostic at that node, never a panic.

use crate::ir::{
    self, Block, ContextOp, Function, Inst, InstData, IntCC, MemSpace, Module, OutArg,
    ProbeFunction, Slot, StatOp, StrContextOp, Value,
};
use crate::Options;
use cranelift_entity::PrimaryMap;
use cranelift_entity::SecondaryMap;
use rustc_hash::FxHashMap;
use stapc_bpf::{ArgKind, ErrorMsg, Format, HistDesc, ProbeKind, StatDesc};
use stapc_frontend::script::{
    AggOp, BinaryOp, Builtin, CmpOp, Delete, Expr, ExprKind, Foreach, FormatUse, FuncId, GlobalId,
    GlobalType, HistKind, LValue, Literal, Local, LocalId, LogicalOp, PointKind, Probe, ProbePoint,
    ScalarType, Script, Sort, SortBy, StatRef, Stmt, StmtKind, Type, UnaryOp, VarRef,
};
use stapc_frontend::{Diagnostic, SourceMap, Span};

/// The message of the runtime error for a shift amount outside 0..=63.
pub const SHIFT_ERROR: &str = "shift amount out of range (must be 0 to 63)";

/// The default maximum number of elements of an array (SystemTap's MAXMAPENTRIES).
pub const MAXMAPENTRIES: u32 = 4096;
/// The runtime error of an update that would add an element to a full array.
pub const ARRAY_OVERFLOW_ERROR: &str = "Array overflow, check MAXMAPENTRIES";
/// The message of the runtime error for `@min`/`@max`/`@avg` of an empty statistic.
pub const EMPTY_AGGREGATE: &str = "empty aggregate";
/// Most linear-histogram buckets a statistic may keep (as sema allows:
/// 1000 intervals, plus the last bucket, underflow and overflow).
pub const MAX_LINEAR_BUCKETS: u32 = 1003;

/// Diagnostic code for script constructs the IR cannot express yet.
pub const E_UNSUPPORTED: &str = "E0900";
/// Diagnostic code for a script the lowering finds malformed (a frontend bug
/// or a hand-built script): type mismatches, `break` outside a loop.
pub const E_MALFORMED: &str = "E0909";

/// Lower a whole script. Errors are every unsupported or malformed node found.
pub fn lower(script: &Script, sm: &SourceMap, opts: &Options) -> Result<Module, Vec<Diagnostic>> {
    let msl = opts.max_string_len.max(1);
    let mut m = ModCx {
        script,
        sm,
        msl,
        formats: Vec::new(),
        errors: Vec::new(),
        global_offsets: SecondaryMap::with_default(None),
        array_index: SecondaryMap::with_default(None),
        arrays: Vec::new(),
        diags: Vec::new(),
        fold_formats: opts.opt_level > 0,
        max_map_entries: opts.max_map_entries.max(1),
        target: opts.target,
        max_nesting: opts.max_nesting,
        rec_funcs: Vec::new(),
        stat_index: SecondaryMap::with_default(None),
        stats: Vec::new(),
        hists: Vec::new(),
    };
    let globals = m.layout_globals();
    m.layout_arrays();
    m.layout_stats();
    let mut module = Module {
        source_name: sm
            .files()
            .first()
            .map(|f| f.name.clone())
            .unwrap_or_default(),
        probes: Vec::new(),
        formats: Vec::new(),
        errors: Vec::new(),
        globals,
        max_string_len: msl,
        arrays: Vec::new(),
        functions: Vec::new(),
        max_nesting: opts.max_nesting,
        stats: Vec::new(),
        hists: Vec::new(),
    };
    for probe in &script.probes {
        for point in &probe.points {
            let Some((kind, kind_name)) = probe_kind(&point.kind) else {
                continue;
            };
            let name = format!("{}_{}", kind_name, module.probes.len());
            let oneshot = point.kind == PointKind::Oneshot;
            let before = m.diags.len();
            let func = FnCx::new(&mut m, probe, point, name.clone()).lower_body(oneshot);
            // A timer whose handler needs what only userspace programs do
            // (`foreach`, aggregates, string functions…) runs in stapc
            // itself, when that lowering is clean.
            let (kind, func) = match (&point.kind, &kind) {
                (PointKind::Timer { profile: false, .. }, ProbeKind::Timer { period_ns, .. })
                    if m.diags[before..].iter().any(|d| d.code == E_UNSUPPORTED) =>
                {
                    let kernel_diags = m.diags.split_off(before);
                    let mut cx = FnCx::new(&mut m, probe, point, format!("user{name}"));
                    cx.userspace = true;
                    let user = cx.lower_body(oneshot);
                    if m.diags[before..].iter().any(|d| d.is_error()) {
                        m.diags.truncate(before);
                        m.diags.extend(kernel_diags);
                        (kind, func)
                    } else {
                        let period_ns = *period_ns;
                        (ProbeKind::UserTimer { period_ns }, user)
                    }
                }
                _ => (kind, func),
            };
            module.probes.push(ProbeFunction {
                kind,
                point: point.text.clone(),
                func,
            });
        }
    }
    // ---- functions/strings ----
    // Recursive functions are lowered once each, as they are first called
    // (lowering one may call more).
    let mut next = 0;
    while let Some(&(func, probe, point)) = m.rec_funcs.get(next) {
        let f = lower_recursive(&mut m, probe, point, func, next);
        module.functions.push(f);
        next += 1;
    }
    module.formats = std::mem::take(&mut m.formats);
    module.errors = std::mem::take(&mut m.errors);
    module.arrays = std::mem::take(&mut m.arrays);
    module.stats = std::mem::take(&mut m.stats);
    module.hists = std::mem::take(&mut m.hists);
    if !m.diags.is_empty() {
        return Err(m.diags);
    }
    for p in &mut module.probes {
        crate::passes::cleanup(&mut p.func);
        crate::passes::compact_slots(&mut p.func);
        crate::passes::renumber(&mut p.func);
    }
    for f in &mut module.functions {
        crate::passes::cleanup(f);
        crate::passes::compact_slots(f);
        crate::passes::renumber(f);
    }
    crate::passes::prune_tables(&mut module);
    if let Err(errs) = crate::verifier::verify_module(&module) {
        return Err(crate::internal_errors(errs));
    }
    Ok(module)
}

/// The IR probe kind of a script point and the readable name stem of its
/// program; `None` for `never`.
fn probe_kind(kind: &PointKind) -> Option<(ProbeKind, &'static str)> {
    Some(match kind {
        PointKind::Begin { priority } => (
            ProbeKind::Begin {
                priority: *priority,
            },
            "begin",
        ),
        PointKind::End { priority } => (
            ProbeKind::End {
                priority: *priority,
            },
            "end",
        ),
        PointKind::Error { priority } => (
            ProbeKind::Error {
                priority: *priority,
            },
            "error",
        ),
        PointKind::Never => return None,
        PointKind::Oneshot => (ProbeKind::Begin { priority: 0 }, "oneshot"),
        PointKind::Timer { period_ns, profile } => (
            ProbeKind::Timer {
                period_ns: *period_ns,
                profile: *profile,
            },
            "timer",
        ),
        PointKind::Tracepoint { group, name } => (
            ProbeKind::Tracepoint {
                group: group.clone(),
                name: name.clone(),
            },
            "tracepoint",
        ),
        PointKind::Syscall { name, ret } => {
            let tp = if *ret {
                format!("sys_exit_{name}")
            } else {
                format!("sys_enter_{name}")
            };
            (
                ProbeKind::Tracepoint {
                    group: "syscalls".into(),
                    name: tp,
                },
                "syscall",
            )
        }
        PointKind::KernelFunction { function, ret } => (
            ProbeKind::Kprobe {
                function: function.clone(),
                ret: *ret,
            },
            if *ret { "kretprobe" } else { "kprobe" },
        ),
        PointKind::Process { path, symbol, ret } => (
            ProbeKind::Uprobe {
                path: path.clone(),
                symbol: symbol.clone(),
                ret: *ret,
            },
            if *ret { "uretprobe" } else { "uprobe" },
        ),
        PointKind::Perf {
            type_,
            config,
            sample_period,
        } => (
            ProbeKind::Perf {
                type_: *type_,
                config: *config,
                sample_period: *sample_period,
            },
            "perf",
        ),
    })
}

/// Module-wide state: formats, errors and the globals layout, shared by
/// every function.
struct ModCx<'a> {
    script: &'a Script,
    sm: &'a SourceMap,
    msl: u32,
    formats: Vec<Format>,
    errors: Vec<ErrorMsg>,
    global_offsets: SecondaryMap<GlobalId, Option<u32>>,
    /// arrays: the index into `arrays` of each array global of longs/strings.
    array_index: SecondaryMap<GlobalId, Option<u32>>,
    arrays: Vec<ir::ArrayInfo>,
    diags: Vec<Diagnostic>,
    /// Splice literal printf arguments into the format text (-O2).
    fold_formats: bool,
    /// arrays: MAXMAPENTRIES.
    max_map_entries: u32,
    /// The kernel the kernel programs are for (built-ins check helper availability).
    target: stapc_bpf::Target,
    // ---- functions/strings ----
    max_nesting: u32,
    /// Recursive functions called so far, in `Module::functions` order, with
    /// the probe and point of their first caller (for `pp()` inside them).
    rec_funcs: Vec<(FuncId, &'a Probe, &'a ProbePoint)>,
    // ---- statistics ----
    /// Index into `stats` of each statistic global.
    stat_index: SecondaryMap<GlobalId, Option<u32>>,
    stats: Vec<StatDesc>,
    hists: Vec<HistDesc>,
}

impl ModCx<'_> {
    /// Scalar globals in `GlobalId` order: longs 8 bytes, strings
    /// MAXSTRINGLEN rounded up to 8; initialisers give the bytes.
    fn layout_globals(&mut self) -> ir::GlobalsLayout {
        let str_size = self.msl.div_ceil(8) * 8;
        let mut init: Vec<u8> = Vec::new();
        for (id, g) in self.script.globals.iter() {
            let off = init.len() as u32;
            match g.ty {
                GlobalType::Scalar(ScalarType::Long) => {
                    let v = match &g.init {
                        Some(Literal::Long(v)) => *v,
                        _ => 0,
                    };
                    init.extend_from_slice(&v.to_le_bytes());
                }
                GlobalType::Scalar(ScalarType::String) => {
                    let mut bytes = vec![0u8; str_size as usize];
                    if let Some(Literal::String(s)) = &g.init {
                        let n = s.len().min(self.msl as usize - 1);
                        bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
                    }
                    init.extend_from_slice(&bytes);
                }
                _ => continue,
            }
            self.global_offsets[id] = Some(off);
        }
        if init.is_empty() {
            init.resize(8, 0);
        }
        ir::GlobalsLayout {
            size: init.len() as u32,
            init,
        }
    }

    // ---- arrays ----
    /// One `ArrayInfo` per array global of longs or strings, in `GlobalId` order.
    fn layout_arrays(&mut self) {
        let kind = |t: &ScalarType| match t {
            ScalarType::Long => ArgKind::Long,
            ScalarType::String => ArgKind::Str,
        };
        for (id, g) in self.script.globals.iter() {
            if let GlobalType::Array { keys, value } = &g.ty {
                let stat = match value {
                    Some(_) => None,
                    // An array of statistics: its elements are one keyed statistic.
                    None => {
                        let s = self.stats.len() as u32;
                        self.stat_index[id] = Some(s);
                        self.stats.push(StatDesc {
                            name: g.name.clone(),
                            keys: keys.iter().map(kind).collect(),
                            ..StatDesc::default()
                        });
                        Some(s)
                    }
                };
                self.array_index[id] = Some(self.arrays.len() as u32);
                self.arrays.push(ir::ArrayInfo {
                    name: g.name.clone(),
                    keys: keys.iter().map(kind).collect(),
                    value: value.as_ref().map_or(ArgKind::Long, kind),
                    max_entries: g.max_entries.unwrap_or(self.max_map_entries).max(1),
                    stat,
                });
            }
        }
    }

    // ---- statistics ----

    /// One statistic per statistic global, in `GlobalId` order, whether or
    /// not a lowered probe uses it (a statistic only used in `probe never`
    /// still exists); which histograms it keeps is learnt from the
    /// `print(@hist_…)` sites as they are lowered.
    fn layout_stats(&mut self) {
        for (id, g) in self.script.globals.iter() {
            if g.ty == GlobalType::Stats {
                self.stat_index[id] = Some(self.stats.len() as u32);
                self.stats.push(StatDesc {
                    name: g.name.clone(),
                    ..StatDesc::default()
                });
            }
        }
    }

    fn format_id(&mut self, text: &str, args: Vec<ArgKind>) -> u32 {
        if let Some(i) = self
            .formats
            .iter()
            .position(|f| f.text == text && f.args == args)
        {
            return i as u32;
        }
        self.formats.push(Format {
            text: text.to_string(),
            args,
        });
        self.formats.len() as u32 - 1
    }

    fn error_id(&mut self, message: &str, location: String) -> u32 {
        let e = ErrorMsg {
            message: message.to_string(),
            location,
        };
        if let Some(i) = self.errors.iter().position(|x| *x == e) {
            return i as u32;
        }
        self.errors.push(e);
        self.errors.len() as u32 - 1
    }

    fn diag(&mut self, d: Diagnostic) {
        // A probe with several points is lowered once per point: report once.
        if !self.diags.contains(&d) {
            self.diags.push(d);
        }
    }

    fn unsupported(&mut self, span: Span, what: &str) {
        self.diag(
            Diagnostic::error(E_UNSUPPORTED, format!("not yet supported by stapc: {what}"))
                .with_primary(span, "not supported yet"),
        );
    }

    fn malformed(&mut self, span: Span, what: &str) {
        self.diag(Diagnostic::error(E_MALFORMED, what.to_string()).with_primary(span, "here"));
    }

    /// `file:line:col` of a span, tolerant of spans outside the source map.
    fn location(&self, span: Span) -> String {
        if (span.file.0 as usize) < self.sm.files().len() {
            self.sm.location(span)
        } else {
            format!("<unknown>:{}", span.start)
        }
    }

    /// The location of operator `op` in the source between byte offsets
    /// `from` and `to` (the operands' spans), or `fallback`'s start.
    fn operator_location(&self, file_span: Span, from: u32, to: u32, op: &str) -> String {
        if (file_span.file.0 as usize) < self.sm.files().len() {
            let text = &self.sm.file(file_span.file).text;
            if let Some(slice) = text.get(from as usize..to as usize) {
                if let Some(pos) = find_operator(slice, op) {
                    let at = from + pos as u32;
                    return self.location(Span::new(file_span.file, at, at + op.len() as u32));
                }
            }
        }
        self.location(file_span)
    }
}

/// The first occurrence of `op` in `s` outside comments.
fn find_operator(s: &str, op: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            i = s[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2);
            continue;
        }
        if b[i..].starts_with(b"//") || b[i] == b'#' {
            i = s[i..].find('\n').map_or(b.len(), |p| i + p + 1);
            continue;
        }
        if b[i..].starts_with(op.as_bytes()) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A lowered expression.
#[derive(Clone, Copy, Debug)]
enum Val {
    Long(Value),
    Str(Slot),
    Void,
}

/// An incoming edge of a block under construction: the branch and which of
/// its edges.
#[derive(Clone, Copy)]
struct PredEdge {
    block: Block,
    inst: Inst,
    edge: usize,
}

/// A local variable of one activation: the probe's (frame 0) or of one
/// inlined call (each call gets a fresh frame, so locals are per call).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Var {
    frame: u32,
    local: LocalId,
}

/// Where runtime errors go inside `try { … } catch (msg) { … }`.
#[derive(Clone, Copy)]
struct Catch {
    handler: Block,
    /// The catch variable's slot, which receives the message.
    msg: Option<Slot>,
}

/// The return target of the function being inlined.
#[derive(Clone, Copy)]
struct Ret {
    block: Block,
    ty: Option<ScalarType>,
    /// For a string result: the slot the caller reads.
    slot: Option<Slot>,
}

/// Inlining depth beyond which a call is refused (non-recursive call chains
/// are finite, but each level multiplies code size).
const MAX_INLINE_DEPTH: usize = 16;

/// Statement and expression nesting the lowering recurses through at most
/// (the frontend bounds one tree's depth; inlining stacks trees).
const MAX_LOWER_DEPTH: u32 = 300;

struct FnCx<'m, 'a> {
    m: &'m mut ModCx<'a>,
    probe: &'a Probe,
    /// The point this copy of the handler is for (`pp()`, `name()`, …).
    point: &'a ProbePoint,
    f: Function,
    entry: Block,
    cur: Block,
    defs: FxHashMap<(Block, Var), Value>,
    sealed: SecondaryMap<Block, bool>,
    incomplete: SecondaryMap<Block, Vec<(Var, Value)>>,
    preds: SecondaryMap<Block, Vec<PredEdge>>,
    str_locals: FxHashMap<Var, Slot>,
    temps_in_use: Vec<Slot>,
    temps_free: Vec<Slot>,
    /// (continue target, break target) of the enclosing loops.
    loops: Vec<(Block, Block)>,
    /// The locals table of each frame; frame 0 is the probe's.
    frames: Vec<&'a PrimaryMap<LocalId, Local>>,
    /// The frame of the code being lowered.
    frame: u32,
    catches: Vec<Catch>,
    ret: Option<Ret>,
    /// Functions being inlined, innermost last.
    call_stack: Vec<FuncId>,
    /// Current recursion depth of `expr`/`stmt`.
    depth: u32,
    /// arrays: the key slot of each array (packed right before each use).
    key_slots: FxHashMap<u32, Slot>,
    /// In a function of `Module::functions`: its call depth (argument 0).
    call_depth: Option<Value>,
    /// The handler runs in userspace (begin/end/error, a timer stapc runs
    /// itself, a recursive function): on the simulator, with stapc's helpers.
    userspace: bool,
}

impl<'m, 'a> FnCx<'m, 'a> {
    fn new(m: &'m mut ModCx<'a>, probe: &'a Probe, point: &'a ProbePoint, name: String) -> Self {
        let mut f = Function::new(name);
        let entry = f.create_block();
        let mut sealed = SecondaryMap::new();
        sealed[entry] = true;
        FnCx {
            m,
            probe,
            point,
            f,
            entry,
            cur: entry,
            defs: FxHashMap::default(),
            sealed,
            incomplete: SecondaryMap::new(),
            preds: SecondaryMap::new(),
            str_locals: FxHashMap::default(),
            temps_in_use: Vec::new(),
            temps_free: Vec::new(),
            loops: Vec::new(),
            frames: vec![&probe.locals],
            frame: 0,
            catches: Vec::new(),
            ret: None,
            call_stack: Vec::new(),
            depth: 0,
            key_slots: FxHashMap::default(),
            call_depth: None,
            userspace: point.kind.is_userspace(),
        }
    }

    fn lower_body(mut self, oneshot: bool) -> Function {
        let body = &self.probe.body;
        self.stmt(body);
        let end = Span {
            start: body.span.end.saturating_sub(1),
            ..body.span
        };
        if oneshot {
            self.ins(InstData::Exit, end);
        }
        self.terminate(InstData::Return, end);
        // Every block's predecessors are known now.
        for b in self.f.layout.clone() {
            if !self.sealed[b] {
                self.seal(b);
            }
        }
        self.f
    }

    // ---- building blocks ----

    fn ins(&mut self, data: InstData, span: Span) -> Option<Value> {
        self.f.append(self.cur, data, span)
    }

    fn val(&mut self, data: InstData, span: Span) -> Value {
        match self.f.append(self.cur, data, span) {
            Some(v) => v,
            // Only result-producing instructions are passed here.
            None => self.iconst(0, span),
        }
    }

    fn iconst(&mut self, imm: i64, span: Span) -> Value {
        let inst = self.f.insts.push(InstData::Iconst { imm });
        self.f.blocks[self.cur].insts.push(inst);
        self.f.srclocs[inst] = span;
        let v = self.f.values.push(ir::ValueDef::Result(inst));
        self.f.results[inst] = v.into();
        v
    }

    fn new_block(&mut self) -> Block {
        self.f.create_block()
    }

    /// End the current block with `data`; later code goes to a fresh block
    /// without predecessors (unreachable; removed after lowering).
    fn terminate(&mut self, data: InstData, span: Span) {
        let edges: Vec<(usize, Block)> = data.edges().iter().map(|(e, b, _)| (*e, *b)).collect();
        let from = self.cur;
        let inst = self.f.insts.push(data);
        self.f.blocks[from].insts.push(inst);
        self.f.srclocs[inst] = span;
        for (edge, to) in edges {
            self.preds[to].push(PredEdge {
                block: from,
                inst,
                edge,
            });
        }
        let dead = self.new_block();
        self.sealed[dead] = true;
        self.cur = dead;
    }

    fn jump(&mut self, dest: Block, args: Vec<Value>, span: Span) {
        self.terminate(InstData::Jump { dest, args }, span);
    }

    fn brif(&mut self, cond: Value, then_dest: Block, else_dest: Block, span: Span) {
        self.terminate(
            InstData::Brif {
                cond,
                then_dest,
                then_args: vec![],
                else_dest,
                else_args: vec![],
            },
            span,
        );
    }

    fn switch_to(&mut self, b: Block) {
        self.cur = b;
    }

    // ---- SSA construction (Braun et al. 2013) ----

    fn var(&self, local: LocalId) -> Var {
        Var {
            frame: self.frame,
            local,
        }
    }

    fn write_var(&mut self, var: Var, block: Block, v: Value) {
        self.defs.insert((block, var), v);
    }

    fn read_var(&mut self, var: Var, block: Block) -> Value {
        // Walk single-predecessor chains iteratively (long straight-line code
        // with runtime checks makes long chains), then cache the answer in
        // every block walked.
        let mut walked = Vec::new();
        let mut b = block;
        let v = loop {
            if let Some(&v) = self.defs.get(&(b, var)) {
                break v;
            }
            if self.sealed[b] && self.preds[b].len() == 1 {
                walked.push(b);
                b = self.preds[b][0].block;
                continue;
            }
            break self.read_var_slow(var, b);
        };
        for w in walked {
            self.write_var(var, w, v);
        }
        v
    }

    /// `read_var` in a block that is unsealed or has zero or several
    /// predecessors.
    fn read_var_slow(&mut self, var: Var, block: Block) -> Value {
        let v = if !self.sealed[block] {
            let p = self.f.append_block_param(block);
            self.incomplete[block].push((var, p));
            p
        } else if self.preds[block].is_empty() {
            // Unassigned (or unreachable): a local reads 0.
            let span = self.local_span(var);
            match self.f.insert(block, 0, InstData::Iconst { imm: 0 }, span) {
                Some(v) => v,
                None => return self.iconst(0, span),
            }
        } else {
            let p = self.f.append_block_param(block);
            self.write_var(var, block, p);
            self.add_operands(var, block);
            p
        };
        self.write_var(var, block, v);
        v
    }

    fn add_operands(&mut self, var: Var, block: Block) {
        let preds = self.preds[block].clone();
        for pe in preds {
            let v = self.read_var(var, pe.block);
            if let Some(args) = self.f.insts[pe.inst].edge_args_mut(pe.edge) {
                args.push(v);
            }
        }
    }

    fn seal(&mut self, block: Block) {
        let pending = std::mem::take(&mut self.incomplete[block]);
        self.sealed[block] = true;
        for (var, _) in pending {
            self.add_operands(var, block);
        }
    }

    // ---- strings ----

    fn temp(&mut self) -> Slot {
        let s = match self.temps_free.pop() {
            Some(s) => s,
            None => self.f.create_slot(self.m.msl),
        };
        self.temps_in_use.push(s);
        s
    }

    fn str_local(&mut self, var: Var) -> Slot {
        if let Some(&s) = self.str_locals.get(&var) {
            return s;
        }
        let s = self.f.create_slot(self.m.msl);
        let span = self.local_span(var);
        // Scratch memory outlives a run: an unassigned string local must read "".
        self.f.insert(
            self.entry,
            0,
            InstData::StrConst {
                dst: s,
                value: String::new(),
            },
            span,
        );
        self.str_locals.insert(var, s);
        s
    }

    fn local_type(&self, var: Var) -> Option<ScalarType> {
        self.frames
            .get(var.frame as usize)?
            .get(var.local)
            .map(|l| l.ty)
    }

    fn local_span(&self, var: Var) -> Span {
        self.frames
            .get(var.frame as usize)
            .and_then(|f| f.get(var.local))
            .map(|l| l.span)
            .unwrap_or_default()
    }

    fn global_offset(&mut self, g: GlobalId, span: Span) -> Option<(u32, ScalarType)> {
        let script = self.m.script;
        let Some(global) = script.globals.get(g) else {
            self.m
                .malformed(span, "reference to a global that does not exist");
            return None;
        };
        match (&global.ty, self.m.global_offsets[g]) {
            (GlobalType::Scalar(t), Some(off)) => Some((off, *t)),
            (GlobalType::Stats, _) => {
                self.m.unsupported(span, "statistics");
                None
            }
            _ => {
                self.m.unsupported(span, "arrays");
                None
            }
        }
    }

    // ---- statements ----

    fn stmt(&mut self, s: &Stmt) {
        if self.depth >= MAX_LOWER_DEPTH {
            self.m.unsupported(
                s.span,
                "statements nested this deeply (after inlining function calls)",
            );
            return;
        }
        self.depth += 1;
        let mark = self.temps_in_use.len();
        self.stmt_inner(s);
        self.depth -= 1;
        let released: Vec<Slot> = self.temps_in_use.drain(mark..).collect();
        self.temps_free.extend(released);
    }

    fn stmt_inner(&mut self, s: &Stmt) {
        let span = s.span;
        match &s.kind {
            StmtKind::Block(stmts) => {
                for st in stmts {
                    self.stmt(st);
                }
            }
            StmtKind::Expr(e) => self.effect(e),
            StmtKind::If { cond, then, else_ } => {
                let c = self.long(cond);
                let then_b = self.new_block();
                let merge = self.new_block();
                match else_ {
                    Some(else_s) => {
                        let else_b = self.new_block();
                        self.brif(c, then_b, else_b, span);
                        self.seal(then_b);
                        self.seal(else_b);
                        self.switch_to(then_b);
                        self.stmt(then);
                        self.jump(merge, vec![], span);
                        self.switch_to(else_b);
                        self.stmt(else_s);
                        self.jump(merge, vec![], span);
                    }
                    None => {
                        self.brif(c, then_b, merge, span);
                        self.seal(then_b);
                        self.switch_to(then_b);
                        self.stmt(then);
                        self.jump(merge, vec![], span);
                    }
                }
                self.seal(merge);
                self.switch_to(merge);
            }
            StmtKind::While { cond, body } => {
                let header = self.new_block();
                self.jump(header, vec![], span);
                self.switch_to(header);
                let c = self.long(cond);
                let body_b = self.new_block();
                let exit = self.new_block();
                self.brif(c, body_b, exit, span);
                self.seal(body_b);
                self.switch_to(body_b);
                self.loops.push((header, exit));
                self.stmt(body);
                self.loops.pop();
                self.jump(header, vec![], span);
                self.seal(header);
                self.seal(exit);
                self.switch_to(exit);
            }
            StmtKind::For {
                init,
                cond,
                step,
                body,
            } => {
                if let Some(init) = init {
                    self.effect(init);
                }
                let header = self.new_block();
                self.jump(header, vec![], span);
                self.switch_to(header);
                let body_b = self.new_block();
                let step_b = self.new_block();
                let exit = self.new_block();
                match cond {
                    Some(cond) => {
                        let c = self.long(cond);
                        self.brif(c, body_b, exit, span);
                    }
                    None => self.jump(body_b, vec![], span),
                }
                self.seal(body_b);
                self.switch_to(body_b);
                self.loops.push((step_b, exit));
                self.stmt(body);
                self.loops.pop();
                self.jump(step_b, vec![], span);
                self.seal(step_b);
                self.switch_to(step_b);
                if let Some(step) = step {
                    self.effect(step);
                }
                self.jump(header, vec![], span);
                self.seal(header);
                self.seal(exit);
                self.switch_to(exit);
            }
            StmtKind::Break | StmtKind::Continue => {
                let is_break = matches!(s.kind, StmtKind::Break);
                match self.loops.last() {
                    Some(&(cont, brk)) => {
                        let dest = if is_break { brk } else { cont };
                        self.jump(dest, vec![], span);
                    }
                    None => self.m.malformed(
                        span,
                        if is_break {
                            "`break` outside a loop"
                        } else {
                            "`continue` outside a loop"
                        },
                    ),
                }
            }
            StmtKind::Return(value) if self.ret.is_some() => self.return_stmt(value.as_ref(), span),
            StmtKind::Next | StmtKind::Return(None) => self.terminate(InstData::Return, span),
            StmtKind::Return(Some(_)) => self
                .m
                .malformed(span, "`return` with a value outside a function"),
            StmtKind::Foreach(fe) => self.foreach(fe, span),
            StmtKind::Delete(Delete::Var(VarRef::Local(l))) => {
                let var = self.var(*l);
                match self.local_type(var) {
                    Some(ScalarType::Long) => {
                        let z = self.iconst(0, span);
                        self.write_var(var, self.cur, z);
                    }
                    Some(ScalarType::String) => {
                        let dst = self.str_local(var);
                        self.ins(
                            InstData::StrConst {
                                dst,
                                value: String::new(),
                            },
                            span,
                        );
                    }
                    None => self
                        .m
                        .malformed(span, "delete of a local that does not exist"),
                }
            }
            StmtKind::Delete(Delete::Var(VarRef::Global(g)))
                if self.m.stat_index.get(*g).copied().flatten().is_some() =>
            {
                self.stat_clear(*g, span)
            }
            StmtKind::Delete(Delete::Var(VarRef::Global(g))) => {
                match self.global_offset(*g, span) {
                    Some((offset, ScalarType::Long)) => {
                        let z = self.iconst(0, span);
                        self.ins(InstData::StoreGlobal { offset, arg: z }, span);
                    }
                    Some((offset, ScalarType::String)) => {
                        let t = self.temp();
                        self.ins(
                            InstData::StrConst {
                                dst: t,
                                value: String::new(),
                            },
                            span,
                        );
                        self.ins(InstData::StrStoreGlobal { offset, src: t }, span);
                    }
                    None => {}
                }
            }
            StmtKind::Delete(Delete::Element { array, keys }) => {
                if let Some((a, info)) = self.array(*array, span) {
                    let vals = self.key_vals(keys);
                    let key = self.pack_key(a, &info, &vals, span);
                    self.ins(InstData::ArrayDelete { array: a, key }, span);
                }
            }
            StmtKind::Delete(Delete::Array(array)) => {
                if let Some((a, _)) = self.array(*array, span) {
                    if self.userspace() {
                        self.ins(InstData::ArrayClear { array: a }, span);
                    } else {
                        self.m.unsupported(
                            span,
                            "`delete` of a whole array in a kernel probe (it needs a \
                             bpf_for_each_map_elem callback; delete the elements one by one, \
                             or clear the array in a begin/end probe)",
                        );
                    }
                }
            }
            StmtKind::Try {
                body,
                catch_var,
                handler,
            } => {
                let handler_b = self.new_block();
                let after = self.new_block();
                let msg = catch_var.map(|l| self.str_local(self.var(l)));
                self.catches.push(Catch {
                    handler: handler_b,
                    msg,
                });
                self.stmt(body);
                self.catches.pop();
                self.jump(after, vec![], span);
                // Every raise site of the body is known now.
                self.seal(handler_b);
                self.switch_to(handler_b);
                self.stmt(handler);
                self.jump(after, vec![], span);
                self.seal(after);
                self.switch_to(after);
            }
            StmtKind::Empty => {}
        }
    }

    /// An expression evaluated for its effect (statement position): `g++`
    /// and `g += e` on a long global become atomic adds.
    fn effect(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::IncDec {
                target: LValue::Var(VarRef::Global(g)),
                increment,
                ..
            } => {
                if let Some((offset, ScalarType::Long)) = self.global_offset_quiet(*g) {
                    let one = self.iconst(if *increment { 1 } else { -1 }, e.span);
                    self.ins(InstData::AtomicAddGlobal { offset, arg: one }, e.span);
                    return;
                }
            }
            ExprKind::Assign {
                target: LValue::Var(VarRef::Global(g)),
                op: Some(op @ (BinaryOp::Add | BinaryOp::Sub)),
                concat: false,
                value,
            } => {
                if let Some((offset, ScalarType::Long)) = self.global_offset_quiet(*g) {
                    let mut v = self.long(value);
                    if *op == BinaryOp::Sub {
                        v = self.val(
                            InstData::Unary {
                                op: ir::UnaryOp::Neg,
                                arg: v,
                            },
                            e.span,
                        );
                    }
                    self.ins(InstData::AtomicAddGlobal { offset, arg: v }, e.span);
                    return;
                }
            }
            // ---- arrays ----
            ExprKind::IncDec {
                target: LValue::Index { array, keys },
                increment,
                ..
            } => {
                let one = if *increment { 1 } else { -1 };
                if self.array_add(e, *array, keys, None, one) {
                    return;
                }
            }
            ExprKind::Assign {
                target: LValue::Index { array, keys },
                op: Some(op @ (BinaryOp::Add | BinaryOp::Sub)),
                concat: false,
                value,
            } => {
                let sign = if *op == BinaryOp::Sub { -1 } else { 1 };
                if self.array_add(e, *array, keys, Some(value), sign) {
                    return;
                }
            }
            _ => {}
        }
        self.expr(e);
    }

    fn global_offset_quiet(&self, g: GlobalId) -> Option<(u32, ScalarType)> {
        match (&self.m.script.globals.get(g)?.ty, self.m.global_offsets[g]) {
            (GlobalType::Scalar(t), Some(off)) => Some((off, *t)),
            _ => None,
        }
    }

    // ---- expressions ----

    fn long(&mut self, e: &Expr) -> Value {
        match self.expr(e) {
            Val::Long(v) => v,
            Val::Str(_) | Val::Void => {
                if e.ty == Type::Long {
                    // Already reported (unsupported construct).
                } else {
                    self.m.malformed(e.span, "expected a number here");
                }
                self.iconst(0, e.span)
            }
        }
    }

    fn string(&mut self, e: &Expr) -> Slot {
        match self.expr(e) {
            Val::Str(s) => s,
            Val::Long(_) | Val::Void => {
                if e.ty != Type::String {
                    self.m.malformed(e.span, "expected a string here");
                }
                let s = self.temp();
                self.ins(
                    InstData::StrConst {
                        dst: s,
                        value: String::new(),
                    },
                    e.span,
                );
                s
            }
        }
    }

    /// A placeholder result for an expression that could not be lowered.
    fn dummy(&mut self, e: &Expr) -> Val {
        match e.ty {
            Type::Long => Val::Long(self.iconst(0, e.span)),
            Type::String => {
                let s = self.temp();
                self.ins(
                    InstData::StrConst {
                        dst: s,
                        value: String::new(),
                    },
                    e.span,
                );
                Val::Str(s)
            }
            Type::Void => Val::Void,
        }
    }

    /// Lower an expression, refusing nesting (after inlining) deep enough
    /// to threaten the compiler's own stack.
    fn expr(&mut self, e: &Expr) -> Val {
        if self.depth >= MAX_LOWER_DEPTH {
            self.m.unsupported(
                e.span,
                "expressions nested this deeply (after inlining function calls)",
            );
            return self.dummy(e);
        }
        self.depth += 1;
        let v = self.expr_inner(e);
        self.depth -= 1;
        v
    }

    fn expr_inner(&mut self, e: &Expr) -> Val {
        let span = e.span;
        match &e.kind {
            ExprKind::Number(n) => Val::Long(self.iconst(*n, span)),
            ExprKind::Str(s) => {
                let t = self.temp();
                self.ins(
                    InstData::StrConst {
                        dst: t,
                        value: s.clone(),
                    },
                    span,
                );
                Val::Str(t)
            }
            ExprKind::Var(VarRef::Local(l)) => match self.local_type(self.var(*l)) {
                Some(ScalarType::Long) => Val::Long(self.read_var(self.var(*l), self.cur)),
                Some(ScalarType::String) => Val::Str(self.str_local(self.var(*l))),
                None => {
                    self.m
                        .malformed(span, "reference to a local that does not exist");
                    self.dummy(e)
                }
            },
            ExprKind::Var(VarRef::Global(g)) => match self.global_offset(*g, span) {
                Some((offset, ScalarType::Long)) => {
                    Val::Long(self.val(InstData::LoadGlobal { offset }, span))
                }
                Some((offset, ScalarType::String)) => {
                    let t = self.temp();
                    self.ins(InstData::StrLoadGlobal { dst: t, offset }, span);
                    Val::Str(t)
                }
                None => self.dummy(e),
            },
            ExprKind::Index { array, keys } => match self.array(*array, span) {
                Some((a, info)) => {
                    let vals = self.key_vals(keys);
                    let key = self.pack_key(a, &info, &vals, span);
                    self.array_read(a, &info, key, span)
                }
                None => self.dummy(e),
            },
            ExprKind::In { array, keys } => match self.array(*array, span) {
                Some((a, info)) => {
                    let vals = self.key_vals(keys);
                    let key = self.pack_key(a, &info, &vals, span);
                    Val::Long(self.val(InstData::ArrayIn { array: a, key }, span))
                }
                None => self.dummy(e),
            },
            ExprKind::Assign {
                target,
                op,
                concat,
                value,
            } => self.assign(e, target, *op, *concat, value),
            ExprKind::IncDec {
                target,
                increment,
                prefix,
            } => self.incdec(e, target, *increment, *prefix),
            ExprKind::Unary(op, a) => {
                let a = self.long(a);
                Val::Long(match op {
                    UnaryOp::Neg => self.val(
                        InstData::Unary {
                            op: ir::UnaryOp::Neg,
                            arg: a,
                        },
                        span,
                    ),
                    UnaryOp::BitNot => self.val(
                        InstData::Unary {
                            op: ir::UnaryOp::BitNot,
                            arg: a,
                        },
                        span,
                    ),
                    UnaryOp::Not => {
                        let z = self.iconst(0, span);
                        self.val(
                            InstData::Icmp {
                                cond: IntCC::Eq,
                                args: [a, z],
                            },
                            span,
                        )
                    }
                })
            }
            ExprKind::Binary(op, a, b) => {
                let va = self.long(a);
                let vb = self.long(b);
                let loc = (a.span.end, b.span.start);
                Val::Long(self.binop(*op, va, vb, span, loc))
            }
            ExprKind::Compare(op, a, b) => {
                let cond = int_cc(*op);
                if a.ty == Type::String || b.ty == Type::String {
                    let sa = self.string(a);
                    let sb = self.string(b);
                    let c = self.val(InstData::StrCompare { args: [sa, sb] }, span);
                    let z = self.iconst(0, span);
                    Val::Long(self.val(InstData::Icmp { cond, args: [c, z] }, span))
                } else {
                    let va = self.long(a);
                    let vb = self.long(b);
                    Val::Long(self.val(
                        InstData::Icmp {
                            cond,
                            args: [va, vb],
                        },
                        span,
                    ))
                }
            }
            ExprKind::Logical(op, a, b) => {
                let va = self.long(a);
                let rhs_b = self.new_block();
                let merge = self.new_block();
                let result = self.f.append_block_param(merge);
                let short = self.iconst(if *op == LogicalOp::And { 0 } else { 1 }, span);
                let (then_dest, then_args, else_dest, else_args) = match op {
                    LogicalOp::And => (rhs_b, vec![], merge, vec![short]),
                    LogicalOp::Or => (merge, vec![short], rhs_b, vec![]),
                };
                self.terminate(
                    InstData::Brif {
                        cond: va,
                        then_dest,
                        then_args,
                        else_dest,
                        else_args,
                    },
                    span,
                );
                self.seal(rhs_b);
                self.switch_to(rhs_b);
                let vb = self.long(b);
                let nb = self.compare_to_zero(IntCC::Ne, vb, span);
                self.jump(merge, vec![nb], span);
                self.seal(merge);
                self.switch_to(merge);
                Val::Long(result)
            }
            ExprKind::Concat(a, b) => {
                let sa = self.string(a);
                let sb = self.string(b);
                let t = self.temp();
                self.ins(
                    InstData::StrConcat {
                        dst: t,
                        args: [sa, sb],
                    },
                    span,
                );
                Val::Str(t)
            }
            ExprKind::Ternary(c, a, b) => {
                let vc = self.long(c);
                let then_b = self.new_block();
                let else_b = self.new_block();
                let merge = self.new_block();
                self.brif(vc, then_b, else_b, span);
                self.seal(then_b);
                self.seal(else_b);
                if e.ty == Type::String {
                    let t = self.temp();
                    for (blk, arm) in [(then_b, a), (else_b, b)] {
                        self.switch_to(blk);
                        let s = self.string(arm);
                        self.ins(InstData::StrCopy { dst: t, src: s }, arm.span);
                        self.jump(merge, vec![], span);
                    }
                    self.seal(merge);
                    self.switch_to(merge);
                    Val::Str(t)
                } else {
                    let result = self.f.append_block_param(merge);
                    for (blk, arm) in [(then_b, a), (else_b, b)] {
                        self.switch_to(blk);
                        let v = self.long(arm);
                        self.jump(merge, vec![v], span);
                    }
                    self.seal(merge);
                    self.switch_to(merge);
                    Val::Long(result)
                }
            }
            ExprKind::Call { func, args } => self.call(e, *func, args),
            ExprKind::Builtin { func, args } => self.builtin(e, *func, args),
            ExprKind::Format {
                format,
                args,
                use_: FormatUse::Print,
            } => {
                let (format, out) = self.format_args(format, args);
                self.ins(InstData::Printf { format, args: out }, span);
                Val::Void
            }
            ExprKind::Format {
                format,
                args,
                use_: FormatUse::Sprintf,
            } => self.sprintf(e, format, args),
            // ---- statistics ----
            ExprKind::StatAdd { stat, value } => {
                let v = self.long(value);
                match (self.stat(stat, span), stat) {
                    (Some((stat, None)), _) => {
                        self.ins(
                            InstData::StatAdd {
                                stat,
                                arg: v,
                                key: None,
                            },
                            span,
                        );
                    }
                    // An element of an array of statistics is created on its
                    // first `<<<`, which fails when the array is full.
                    (Some((stat, key)), StatRef::Index { array, .. }) => {
                        let status = self.val(InstData::StatAdd { stat, arg: v, key }, span);
                        if let Some(info) = self.m.array_index[*array]
                            .and_then(|a| self.m.arrays.get(a as usize).cloned())
                        {
                            self.check_overflow(status, &info, span);
                        }
                    }
                    _ => {}
                }
                match e.ty {
                    Type::Void => Val::Void,
                    // `s <<< v` used as a value reads as the value added.
                    Type::Long => Val::Long(v),
                    Type::String => self.dummy(e),
                }
            }
            ExprKind::Aggregate { op, stat } => self.aggregate(e, *op, stat),
            ExprKind::PrintHist { kind, stat } => {
                self.print_hist(kind, stat, span);
                Val::Void
            }
            ExprKind::Target(t) => self.target_var(e, t),
        }
    }

    /// A binary operation with C semantics and its runtime checks. `between`
    /// is the byte range between the operands, where the operator is.
    fn binop(
        &mut self,
        op: BinaryOp,
        a: Value,
        b: Value,
        span: Span,
        between: (u32, u32),
    ) -> Value {
        let (irop, text) = match op {
            BinaryOp::Add => (ir::BinaryOp::Add, "+"),
            BinaryOp::Sub => (ir::BinaryOp::Sub, "-"),
            BinaryOp::Mul => (ir::BinaryOp::Mul, "*"),
            BinaryOp::Div => (ir::BinaryOp::SDiv, "/"),
            BinaryOp::Mod => (ir::BinaryOp::SRem, "%"),
            BinaryOp::Shl => (ir::BinaryOp::Shl, "<<"),
            BinaryOp::Shr => (ir::BinaryOp::AShr, ">>"),
            BinaryOp::LShr => (ir::BinaryOp::LShr, ">>>"),
            BinaryOp::And => (ir::BinaryOp::And, "&"),
            BinaryOp::Or => (ir::BinaryOp::Or, "|"),
            BinaryOp::Xor => (ir::BinaryOp::Xor, "^"),
        };
        match op {
            BinaryOp::Div | BinaryOp::Mod if !matches!(self.f.const_value(b), Some(c) if c != 0) => {
                let loc = self.m.operator_location(span, between.0, between.1, text);
                let location = format!("near operator '{text}' at {loc}");
                let is_zero = self.compare_to_zero(IntCC::Eq, b, span);
                self.check(is_zero, "division by 0", location, span);
            }
            BinaryOp::Shl | BinaryOp::Shr | BinaryOp::LShr
                if !matches!(self.f.const_value(b), Some(0..=63)) =>
            {
                let loc = self.m.operator_location(span, between.0, between.1, text);
                let location = format!("near operator '{text}' at {loc}");
                let limit = self.iconst(64, span);
                let bad = self.val(
                    InstData::Icmp {
                        cond: IntCC::Uge,
                        args: [b, limit],
                    },
                    span,
                );
                self.check(bad, SHIFT_ERROR, location, span);
            }
            _ => {}
        }
        self.val(
            InstData::Binary {
                op: irop,
                args: [a, b],
            },
            span,
        )
    }

    // ---- statistics ----

    /// The statistic index of a statistic reference and, for an element of
    /// an array of statistics, its key (packed now: use it at once), or a
    /// diagnostic.
    fn stat(&mut self, stat: &StatRef, span: Span) -> Option<(u32, Option<Slot>)> {
        let g = match stat {
            StatRef::Global(g) | StatRef::Index { array: g, .. } => *g,
        };
        let Some(i) = self.m.stat_index.get(g).copied().flatten() else {
            self.m
                .malformed(span, "statistic operation on a global that is no statistic");
            return None;
        };
        match stat {
            StatRef::Global(_) => Some((i, None)),
            StatRef::Index { array, keys } => {
                let (a, info) = self.array(*array, span)?;
                if keys.len() != info.keys.len() {
                    self.m.malformed(span, "wrong number of array keys");
                    return None;
                }
                let vals = self.key_vals(keys);
                Some((i, Some(self.pack_key(a, &info, &vals, span))))
            }
        }
    }

    /// Whether this handler runs in userspace (on the simulator), where
    /// statistics can be merged over every CPU.
    fn userspace(&self) -> bool {
        self.userspace
    }

    /// Reading a statistic merges every CPU's copy, which a kernel program
    /// cannot do before Linux 5.19; stapc reads statistics only in userspace.
    fn kernel_stat_read(&mut self, span: Span, what: &str) {
        self.m.diag(
            Diagnostic::error(
                E_UNSUPPORTED,
                format!("not yet supported by stapc: {what} in kernel probes"),
            )
            .with_primary(span, "in a kernel probe")
            .with_help(
                "statistics are per-CPU; stapc merges the CPUs only in begin, end and error \
                 probes and in timer.ms/timer.s… probes (which then run in stapc): read the \
                 statistic there (print(@hist_…) works in every probe)",
            ),
        );
    }

    /// `@count(s)` … `@avg(s)`: `@min`, `@max` and `@avg` test the count
    /// first and raise "empty aggregate" on an empty statistic.
    fn aggregate(&mut self, e: &Expr, op: AggOp, stat_ref: &StatRef) -> Val {
        let span = e.span;
        let (op, name) = match op {
            AggOp::Count => (StatOp::Count, "@count"),
            AggOp::Sum => (StatOp::Sum, "@sum"),
            AggOp::Min => (StatOp::Min, "@min"),
            AggOp::Max => (StatOp::Max, "@max"),
            AggOp::Avg => (StatOp::Avg, "@avg"),
        };
        if !self.userspace() {
            self.kernel_stat_read(span, name);
            return self.dummy(e);
        }
        let Some((stat, key)) = self.stat(stat_ref, span) else {
            return self.dummy(e);
        };
        if matches!(op, StatOp::Min | StatOp::Max | StatOp::Avg) {
            let count = self.val(
                InstData::StatRead {
                    stat,
                    op: StatOp::Count,
                    key,
                },
                span,
            );
            let empty = self.compare_to_zero(IntCC::Eq, count, span);
            let location = format!("near operator '{name}' at {}", self.m.location(span));
            self.check(empty, EMPTY_AGGREGATE, location, span);
        }
        Val::Long(self.val(InstData::StatRead { stat, op, key }, span))
    }

    /// `print(@hist_log(s))` / `print(@hist_linear(s, …))`: note that the
    /// statistic keeps those buckets and send a HIST record.
    fn print_hist(&mut self, kind: &HistKind, stat: &StatRef, span: Span) {
        let Some((stat, key)) = self.stat(stat, span) else {
            return;
        };
        let Some(desc) = self.m.stats.get_mut(stat as usize) else {
            return;
        };
        let linear = match *kind {
            HistKind::Log => {
                desc.log = true;
                false
            }
            HistKind::Linear {
                start,
                stop,
                interval,
            } => {
                let buckets = if interval > 0 && stop > start {
                    ((stop as i128 - start as i128) / interval as i128 + 3) as u128
                } else {
                    0
                };
                if buckets == 0 || buckets > u128::from(MAX_LINEAR_BUCKETS) {
                    self.m.malformed(span, "invalid @hist_linear bounds");
                    return;
                }
                match desc.linear {
                    None => desc.linear = Some((start, stop, interval)),
                    Some(p) if p == (start, stop, interval) => {}
                    Some((s0, s1, s2)) => {
                        let name = desc.name.clone();
                        self.m.diag(
                            Diagnostic::error(
                                E_UNSUPPORTED,
                                format!(
                                    "not yet supported by stapc: @hist_linear of `{name}` \
                                     with different bounds"
                                ),
                            )
                            .with_primary(span, format!("{start}, {stop}, {interval} here"))
                            .with_help(format!(
                                "`{name}` already keeps linear buckets for {s0}, {s1}, {s2}; \
                                 use the same bounds everywhere"
                            )),
                        );
                        return;
                    }
                }
                true
            }
        };
        let hd = HistDesc { stat, linear };
        let hist = match self.m.hists.iter().position(|h| *h == hd) {
            Some(i) => i as u32,
            None => {
                self.m.hists.push(hd);
                self.m.hists.len() as u32 - 1
            }
        };
        self.ins(InstData::PrintHist { hist, key }, span);
    }

    /// `delete s` on a statistic.
    fn stat_clear(&mut self, g: GlobalId, span: Span) {
        let Some((stat, _)) = self.stat(&StatRef::Global(g), span) else {
            return;
        };
        if !self.userspace() {
            self.kernel_stat_read(span, "`delete` of a statistic");
            return;
        }
        self.ins(InstData::StatClear { stat }, span);
    }

    /// `v <cond> 0` as a 1/0 value (the test in front of a runtime check).
    fn compare_to_zero(&mut self, cond: IntCC, v: Value, span: Span) -> Value {
        let z = self.iconst(0, span);
        self.val(InstData::Icmp { cond, args: [v, z] }, span)
    }

    /// `if (failed) raise the error`, continuing in a new block.
    fn check(&mut self, failed: Value, message: &str, location: String, span: Span) {
        let trap_b = self.new_block();
        let cont = self.new_block();
        self.brif(failed, trap_b, cont, span);
        self.seal(trap_b);
        self.seal(cont);
        self.switch_to(trap_b);
        self.raise(message, location, None, span);
        self.switch_to(cont);
    }

    /// Raise a runtime error: inside `try`, store the message in the catch
    /// variable and go to the handler; otherwise trap (uncaught). `dynamic`
    /// is the slot of an `error(msg)` message computed at run time.
    fn raise(&mut self, message: &str, location: String, dynamic: Option<Slot>, span: Span) {
        if let Some(c) = self.catches.last().copied() {
            if let Some(slot) = c.msg {
                let data = match dynamic {
                    Some(src) => InstData::StrCopy { dst: slot, src },
                    None => InstData::StrConst {
                        dst: slot,
                        value: message.to_string(),
                    },
                };
                self.ins(data, span);
            }
            self.jump(c.handler, vec![], span);
            return;
        }
        let error = self.m.error_id(message, location);
        match dynamic {
            Some(msg) => self.terminate(InstData::TrapMsg { error, msg }, span),
            None => self.terminate(InstData::Trap { error }, span),
        }
    }

    /// Inline a call of a script function: arguments are evaluated in the
    /// caller's frame, the body runs in a fresh frame, `return` jumps to a
    /// block after it (with the result as a parameter, or in a slot).
    fn call(&mut self, e: &Expr, func: FuncId, args: &[Expr]) -> Val {
        let span = e.span;
        let script = self.m.script;
        let Some(fd) = script.functions.get(func) else {
            self.m
                .malformed(span, "call of a function that does not exist");
            return self.dummy(e);
        };
        if fd.recursive || self.call_stack.contains(&func) {
            return self.recursive_call(e, func, args);
        }
        if self.call_stack.len() >= MAX_INLINE_DEPTH {
            self.m.unsupported(
                span,
                &format!("function calls nested more than {MAX_INLINE_DEPTH} deep"),
            );
            return self.dummy(e);
        }
        if args.len() != fd.params.len() {
            self.m.malformed(span, "wrong number of arguments");
            return self.dummy(e);
        }
        let vals: Vec<Val> = args.iter().map(|a| self.expr(a)).collect();
        let frame = self.frames.len() as u32;
        self.frames.push(&fd.locals);
        let saved_frame = std::mem::replace(&mut self.frame, frame);
        for ((p, v), a) in fd.params.iter().zip(vals).zip(args) {
            let var = self.var(*p);
            match (self.local_type(var), v) {
                (Some(ScalarType::Long), Val::Long(x)) => self.write_var(var, self.cur, x),
                (Some(ScalarType::String), Val::Str(src)) => {
                    let dst = self.str_local(var);
                    self.ins(InstData::StrCopy { dst, src }, a.span);
                }
                _ => self.m.malformed(a.span, "argument of the wrong type"),
            }
        }
        let ret_b = self.new_block();
        let (result, slot) = match fd.ret {
            Some(ScalarType::Long) => (Some(self.f.append_block_param(ret_b)), None),
            Some(ScalarType::String) => (None, Some(self.temp())),
            None => (None, None),
        };
        let saved_ret = self.ret.replace(Ret {
            block: ret_b,
            ty: fd.ret,
            slot,
        });
        let saved_loops = std::mem::take(&mut self.loops);
        self.call_stack.push(func);
        self.stmt(&fd.body);
        // Falling off the end returns 0 / "".
        let end = Span {
            start: fd.body.span.end.saturating_sub(1),
            ..fd.body.span
        };
        self.return_stmt(None, end);
        self.call_stack.pop();
        self.loops = saved_loops;
        self.ret = saved_ret;
        self.frame = saved_frame;
        self.seal(ret_b);
        self.switch_to(ret_b);
        match (result, slot) {
            (Some(v), _) => Val::Long(v),
            (_, Some(s)) => Val::Str(s),
            _ => Val::Void,
        }
    }

    /// `abs(x)`, `min(a, b)`, `max(a, b)`: a branch choosing the operand
    /// (`abs(i64::MIN)` wraps to itself, as in C).
    fn abs_min_max(&mut self, e: &Expr, func: Builtin, args: &[Expr]) -> Val {
        let span = e.span;
        let want = if func == Builtin::Abs { 1 } else { 2 };
        if args.len() != want {
            self.m.malformed(span, "wrong number of arguments");
            return self.dummy(e);
        }
        let a = self.long(&args[0]);
        let (cond, x, y) = if func == Builtin::Abs {
            let z = self.iconst(0, span);
            let neg = self.val(
                InstData::Unary {
                    op: ir::UnaryOp::Neg,
                    arg: a,
                },
                span,
            );
            let c = self.val(
                InstData::Icmp {
                    cond: IntCC::Slt,
                    args: [a, z],
                },
                span,
            );
            (c, neg, a)
        } else {
            let b = self.long(&args[1]);
            let cc = if func == Builtin::Min {
                IntCC::Slt
            } else {
                IntCC::Sgt
            };
            let c = self.val(
                InstData::Icmp {
                    cond: cc,
                    args: [a, b],
                },
                span,
            );
            (c, a, b)
        };
        // Two arms rather than one brif with both edges to `merge`: simpler
        // for the backend's edge handling.
        let then_b = self.new_block();
        let else_b = self.new_block();
        let merge = self.new_block();
        let r = self.f.append_block_param(merge);
        self.brif(cond, then_b, else_b, span);
        self.seal(then_b);
        self.seal(else_b);
        self.switch_to(then_b);
        self.jump(merge, vec![x], span);
        self.switch_to(else_b);
        self.jump(merge, vec![y], span);
        self.seal(merge);
        self.switch_to(merge);
        Val::Long(r)
    }

    /// `return [e]` inside an inlined function.
    fn return_stmt(&mut self, value: Option<&Expr>, span: Span) {
        let Some(r) = self.ret else { return };
        match (r.ty, r.slot) {
            (Some(ScalarType::Long), _) => {
                let v = match value {
                    Some(e) => self.long(e),
                    None => self.iconst(0, span),
                };
                self.jump(r.block, vec![v], span);
            }
            (Some(ScalarType::String), Some(dst)) => {
                let data = match value {
                    Some(e) => InstData::StrCopy {
                        dst,
                        src: self.string(e),
                    },
                    None => InstData::StrConst {
                        dst,
                        value: String::new(),
                    },
                };
                self.ins(data, span);
                self.jump(r.block, vec![], span);
            }
            _ => {
                if let Some(e) = value {
                    self.expr(e);
                }
                self.jump(r.block, vec![], span);
            }
        }
    }

    fn assign(
        &mut self,
        e: &Expr,
        target: &LValue,
        op: Option<BinaryOp>,
        concat: bool,
        value: &Expr,
    ) -> Val {
        let span = e.span;
        let between = (span.start, value.span.start);
        match target {
            LValue::Var(VarRef::Local(l)) => match self.local_type(self.var(*l)) {
                Some(ScalarType::Long) => {
                    let var = self.var(*l);
                    let rhs = self.long(value);
                    let new = match op {
                        None => rhs,
                        Some(op) => {
                            let old = self.read_var(var, self.cur);
                            self.binop(op, old, rhs, span, between)
                        }
                    };
                    self.write_var(var, self.cur, new);
                    Val::Long(new)
                }
                Some(ScalarType::String) => {
                    let rhs = self.string(value);
                    let slot = self.str_local(self.var(*l));
                    if concat {
                        self.ins(
                            InstData::StrConcat {
                                dst: slot,
                                args: [slot, rhs],
                            },
                            span,
                        );
                    } else if rhs != slot {
                        self.ins(
                            InstData::StrCopy {
                                dst: slot,
                                src: rhs,
                            },
                            span,
                        );
                    }
                    Val::Str(slot)
                }
                None => {
                    self.m
                        .malformed(span, "assignment to a local that does not exist");
                    self.dummy(e)
                }
            },
            LValue::Var(VarRef::Global(g)) => match self.global_offset(*g, span) {
                Some((offset, ScalarType::Long)) => {
                    let rhs = self.long(value);
                    let new = match op {
                        None => rhs,
                        Some(op) => {
                            let old = self.val(InstData::LoadGlobal { offset }, span);
                            self.binop(op, old, rhs, span, between)
                        }
                    };
                    self.ins(InstData::StoreGlobal { offset, arg: new }, span);
                    Val::Long(new)
                }
                Some((offset, ScalarType::String)) => {
                    let rhs = self.string(value);
                    if concat {
                        let t = self.temp();
                        self.ins(InstData::StrLoadGlobal { dst: t, offset }, span);
                        self.ins(
                            InstData::StrConcat {
                                dst: t,
                                args: [t, rhs],
                            },
                            span,
                        );
                        self.ins(InstData::StrStoreGlobal { offset, src: t }, span);
                        Val::Str(t)
                    } else {
                        self.ins(InstData::StrStoreGlobal { offset, src: rhs }, span);
                        Val::Str(rhs)
                    }
                }
                None => self.dummy(e),
            },
            LValue::Index { array, keys } => self.assign_index(e, *array, keys, op, concat, value),
        }
    }

    fn incdec(&mut self, e: &Expr, target: &LValue, increment: bool, prefix: bool) -> Val {
        let span = e.span;
        let op = if increment {
            ir::BinaryOp::Add
        } else {
            ir::BinaryOp::Sub
        };
        match target {
            LValue::Var(VarRef::Local(l))
                if self.local_type(self.var(*l)) == Some(ScalarType::Long) =>
            {
                let var = self.var(*l);
                let old = self.read_var(var, self.cur);
                let one = self.iconst(1, span);
                let new = self.val(
                    InstData::Binary {
                        op,
                        args: [old, one],
                    },
                    span,
                );
                self.write_var(var, self.cur, new);
                Val::Long(if prefix { new } else { old })
            }
            LValue::Var(VarRef::Global(g)) => match self.global_offset(*g, span) {
                Some((offset, ScalarType::Long)) => {
                    let old = self.val(InstData::LoadGlobal { offset }, span);
                    let one = self.iconst(1, span);
                    let new = self.val(
                        InstData::Binary {
                            op,
                            args: [old, one],
                        },
                        span,
                    );
                    self.ins(InstData::StoreGlobal { offset, arg: new }, span);
                    Val::Long(if prefix { new } else { old })
                }
                Some(_) => {
                    self.m.malformed(span, "`++`/`--` on a string");
                    self.dummy(e)
                }
                None => self.dummy(e),
            },
            LValue::Var(VarRef::Local(_)) => {
                self.m.malformed(span, "`++`/`--` on a string");
                self.dummy(e)
            }
            LValue::Index { array, keys } => {
                let Some((a, info)) = self.array(*array, span) else {
                    return self.dummy(e);
                };
                if info.value != ArgKind::Long {
                    self.m.malformed(span, "`++`/`--` on a string");
                    return self.dummy(e);
                }
                let vals = self.key_vals(keys);
                let key = self.pack_key(a, &info, &vals, span);
                let old = self.val(InstData::ArrayGet { array: a, key }, span);
                let one = self.iconst(1, span);
                let new = self.val(
                    InstData::Binary {
                        op,
                        args: [old, one],
                    },
                    span,
                );
                let status = self.val(
                    InstData::ArraySet {
                        array: a,
                        key,
                        arg: new,
                    },
                    span,
                );
                self.check_overflow(status, &info, span);
                Val::Long(if prefix { new } else { old })
            }
        }
    }

    fn builtin(&mut self, e: &Expr, func: Builtin, args: &[Expr]) -> Val {
        let span = e.span;
        let ctx = |op| Some(InstData::Context { op });
        let data = match func {
            Builtin::Pid => ctx(ContextOp::Pid),
            Builtin::Tid => ctx(ContextOp::Tid),
            Builtin::Uid => ctx(ContextOp::Uid),
            Builtin::Gid => ctx(ContextOp::Gid),
            Builtin::Cpu => ctx(ContextOp::Cpu),
            Builtin::KtimeGetNs => ctx(ContextOp::KtimeNs),
            _ => None,
        };
        if let Some(data) = data {
            return Val::Long(self.val(data, span));
        }
        if let Some(v) = self.funcs_builtin(e, func, args) {
            return v;
        }
        match func {
            Builtin::Exit => {
                self.ins(InstData::Exit, span);
                Val::Void
            }
            Builtin::Error => {
                let loc = self.m.location(span);
                let location = format!("near identifier 'error' at {loc}");
                match args.first() {
                    Some(Expr {
                        kind: ExprKind::Str(msg),
                        ..
                    }) => {
                        self.raise(msg, location, None, span);
                    }
                    Some(arg) => {
                        let msg = self.string(arg);
                        self.raise("", location, Some(msg), span);
                    }
                    None => self.m.malformed(span, "error() needs a message"),
                }
                Val::Void
            }
            Builtin::Execname => {
                let t = self.temp();
                self.ins(
                    InstData::StrContext {
                        dst: t,
                        op: StrContextOp::Execname,
                    },
                    span,
                );
                Val::Str(t)
            }
            // Constants of the probe point this handler copy is for.
            Builtin::Pp | Builtin::Name | Builtin::Probefunc => {
                let value = match (func, &self.point.kind) {
                    (Builtin::Pp, _) => self.point.text.clone(),
                    (Builtin::Name, PointKind::Syscall { name, .. }) => name.clone(),
                    (Builtin::Probefunc, PointKind::KernelFunction { function, .. }) => {
                        function.clone()
                    }
                    (Builtin::Probefunc, PointKind::Process { symbol, .. }) => symbol.clone(),
                    (Builtin::Probefunc, PointKind::Syscall { name, .. }) => {
                        format!("__x64_sys_{name}")
                    }
                    _ => String::new(),
                };
                let t = self.temp();
                self.ins(InstData::StrConst { dst: t, value }, span);
                Val::Str(t)
            }
            Builtin::Abs | Builtin::Min | Builtin::Max => self.abs_min_max(e, func, args),
            Builtin::KernelString
            | Builtin::UserString
            | Builtin::KernelLong
            | Builtin::KernelInt
            | Builtin::UserLong
            | Builtin::UserInt => self.memory_builtin(e, func, args),
            Builtin::IntArg
            | Builtin::LongArg
            | Builtin::UintArg
            | Builtin::UlongArg
            | Builtin::PointerArg
            | Builtin::Returnval => self.register_builtin(e, func, args),
            other => {
                self.m.unsupported(
                    span,
                    &format!("the built-in function {}()", builtin_name(other)),
                );
                self.dummy(e)
            }
        }
    }
}

// ---- arrays ----
impl<'m, 'a> FnCx<'m, 'a> {
    /// The array index and description of global `g`, or a diagnostic.
    fn array(&mut self, g: GlobalId, span: Span) -> Option<(u32, ir::ArrayInfo)> {
        let script = self.m.script;
        let Some(global) = script.globals.get(g) else {
            self.m
                .malformed(span, "reference to a global that does not exist");
            return None;
        };
        match (&global.ty, self.m.array_index[g]) {
            (GlobalType::Array { .. }, Some(i)) => {
                Some((i, self.m.arrays.get(i as usize)?.clone()))
            }

            _ => {
                self.m
                    .malformed(span, &format!("`{}` is not an array", global.name));
                None
            }
        }
    }

    /// Evaluate the key expressions (before anything is packed: a key may
    /// itself read an array, which reuses the key slot).
    fn key_vals(&mut self, keys: &[Expr]) -> Vec<(Val, Span)> {
        keys.iter().map(|k| (self.expr(k), k.span)).collect()
    }

    /// Pack evaluated key columns into the array's key slot.
    fn pack_key(&mut self, a: u32, info: &ir::ArrayInfo, vals: &[(Val, Span)], span: Span) -> Slot {
        let msl = self.m.msl;
        let key = match self.key_slots.get(&a) {
            Some(&k) => k,
            None => {
                let k = self.f.create_slot(info.key_size(msl).max(8));
                self.key_slots.insert(a, k);
                k
            }
        };
        if vals.len() != info.keys.len() {
            self.m.malformed(
                span,
                &format!(
                    "`{}` has {} index columns, not {}",
                    info.name,
                    info.keys.len(),
                    vals.len()
                ),
            );
            return key;
        }
        for (col, ((v, vspan), kind)) in vals.iter().zip(&info.keys).enumerate() {
            let offset = info.key_offset(col, msl);
            match (v, kind) {
                (Val::Long(arg), ArgKind::Long) => {
                    self.ins(
                        InstData::KeyStore {
                            key,
                            offset,
                            arg: *arg,
                        },
                        *vspan,
                    );
                }
                (Val::Str(src), ArgKind::Str) => {
                    self.ins(
                        InstData::KeyStoreStr {
                            key,
                            offset,
                            src: *src,
                        },
                        *vspan,
                    );
                }
                _ => self.m.malformed(*vspan, "array index of the wrong type"),
            }
        }
        key
    }

    /// Read element `key` (missing: 0 or "").
    fn array_read(&mut self, a: u32, info: &ir::ArrayInfo, key: Slot, span: Span) -> Val {
        match info.value {
            ArgKind::Long => Val::Long(self.val(InstData::ArrayGet { array: a, key }, span)),
            ArgKind::Str => {
                let t = self.temp();
                self.ins(
                    InstData::ArrayGetStr {
                        dst: t,
                        array: a,
                        key,
                    },
                    span,
                );
                Val::Str(t)
            }
        }
    }

    /// Raise SystemTap's overflow error when an update `status` is negative.
    fn check_overflow(&mut self, status: Value, info: &ir::ArrayInfo, span: Span) {
        let failed = self.compare_to_zero(IntCC::Slt, status, span);
        let loc = self.m.location(span);
        let location = format!("near identifier '{}' at {loc}", info.name);
        self.check(failed, ARRAY_OVERFLOW_ERROR, location, span);
    }

    fn assign_index(
        &mut self,
        e: &Expr,
        array: GlobalId,
        keys: &[Expr],
        op: Option<BinaryOp>,
        concat: bool,
        value: &Expr,
    ) -> Val {
        let span = e.span;
        let Some((a, info)) = self.array(array, span) else {
            return self.dummy(e);
        };
        let vals = self.key_vals(keys);
        match info.value {
            ArgKind::Long => {
                let rhs = self.long(value);
                let key = self.pack_key(a, &info, &vals, span);
                let new = match op {
                    None => rhs,
                    Some(op) => {
                        let old = self.val(InstData::ArrayGet { array: a, key }, span);
                        self.binop(op, old, rhs, span, (span.start, value.span.start))
                    }
                };
                let status = self.val(
                    InstData::ArraySet {
                        array: a,
                        key,
                        arg: new,
                    },
                    span,
                );
                self.check_overflow(status, &info, span);
                Val::Long(new)
            }
            ArgKind::Str => {
                let rhs = self.string(value);
                let key = self.pack_key(a, &info, &vals, span);
                let src = if concat {
                    let t = self.temp();
                    self.ins(
                        InstData::ArrayGetStr {
                            dst: t,
                            array: a,
                            key,
                        },
                        span,
                    );
                    self.ins(
                        InstData::StrConcat {
                            dst: t,
                            args: [t, rhs],
                        },
                        span,
                    );
                    t
                } else {
                    rhs
                };
                let status = self.val(InstData::ArraySetStr { array: a, key, src }, span);
                self.check_overflow(status, &info, span);
                Val::Str(src)
            }
        }
    }

    /// `arr[k]++`, `arr[k] += v`, `arr[k] -= v` in statement position: one
    /// `ArrayAdd` (atomic in kernel programs). `false` when the target is not
    /// an array of longs (the caller lowers it the general way).
    fn array_add(
        &mut self,
        e: &Expr,
        array: GlobalId,
        keys: &[Expr],
        value: Option<&Expr>,
        sign: i64,
    ) -> bool {
        let span = e.span;
        let script = self.m.script;
        let Some(a) = script
            .globals
            .get(array)
            .and_then(|_| self.m.array_index[array])
        else {
            return false;
        };
        let Some(info) = self.m.arrays.get(a as usize).cloned() else {
            return false;
        };
        if info.value != ArgKind::Long {
            return false;
        }
        let vals = self.key_vals(keys);
        let arg = match value {
            Some(v) => {
                let x = self.long(v);
                if sign < 0 {
                    self.val(
                        InstData::Unary {
                            op: ir::UnaryOp::Neg,
                            arg: x,
                        },
                        span,
                    )
                } else {
                    x
                }
            }
            None => self.iconst(sign, span),
        };
        let key = self.pack_key(a, &info, &vals, span);
        let status = self.val(InstData::ArrayAdd { array: a, key, arg }, span);
        self.check_overflow(status, &info, span);
        true
    }

    /// `foreach`: in userspace programs, an iterator over a sorted snapshot
    /// of the keys (stapc's helpers); kernel programs would need
    /// `bpf_for_each_map_elem` callbacks, which stapc does not emit.
    fn foreach(&mut self, fe: &Foreach, span: Span) {
        let Some((a, info)) = self.array(fe.array, span) else {
            return;
        };
        if !self.userspace() {
            self.m.unsupported(
                span,
                &format!(
                    "`foreach` over `{}` in a kernel probe ({}): iterating a map in the \
                     kernel needs a bpf_for_each_map_elem callback (Linux 5.13+), which \
                     stapc does not emit; iterate in a begin or end probe instead",
                    info.name, self.point.text
                ),
            );
            return;
        }
        if fe.keys.len() != info.keys.len() {
            self.m.malformed(
                span,
                &format!(
                    "`foreach` binds {} keys of `{}`, which has {}",
                    fe.keys.len(),
                    info.name,
                    info.keys.len()
                ),
            );
            return;
        }
        let sort = match fe.sort {
            None => ir::IterSort::Unsorted,
            Some(Sort {
                by: SortBy::Key(column),
                descending,
            }) => ir::IterSort::Key {
                column: column as u32,
                descending,
            },
            Some(Sort {
                by: SortBy::Value,
                descending,
            }) => ir::IterSort::Value { descending },
        };
        if fe.value.is_some() && info.stat.is_some() {
            self.m.unsupported(
                span,
                &format!(
                    "`foreach (v = [k] in {})` over an array of statistics (read @count(…) and the others in the loop)",
                    info.name
                ),
            );
            return;
        }
        let limit = match &fe.limit {
            Some(l) => self.long(l),
            None => self.iconst(-1, span),
        };
        let msl = self.m.msl;
        let key = self.f.create_slot(info.key_size(msl).max(8));
        let handle = self.val(
            InstData::ArrayIterStart {
                array: a,
                sort,
                limit,
            },
            span,
        );
        let header = self.new_block();
        let body_b = self.new_block();
        let exit = self.new_block();
        self.jump(header, vec![], span);
        self.switch_to(header);
        let found = self.val(InstData::ArrayIterNext { handle, key }, span);
        self.brif(found, body_b, exit, span);
        self.seal(body_b);
        self.switch_to(body_b);
        for (col, (l, kind)) in fe.keys.iter().zip(&info.keys).enumerate() {
            let var = self.var(*l);
            let offset = info.key_offset(col, msl);
            match (self.local_type(var), kind) {
                (Some(ScalarType::Long), ArgKind::Long) => {
                    let v = self.val(InstData::KeyLoad { key, offset }, span);
                    self.write_var(var, self.cur, v);
                }
                (Some(ScalarType::String), ArgKind::Str) => {
                    let dst = self.str_local(var);
                    self.ins(InstData::KeyLoadStr { dst, key, offset }, span);
                }
                _ => self
                    .m
                    .malformed(span, "`foreach` key variable of the wrong type"),
            }
        }
        if let Some(l) = fe.value {
            let var = self.var(l);
            match (self.local_type(var), info.value) {
                (Some(ScalarType::Long), ArgKind::Long) => {
                    let v = self.val(InstData::ArrayGet { array: a, key }, span);
                    self.write_var(var, self.cur, v);
                }
                (Some(ScalarType::String), ArgKind::Str) => {
                    let dst = self.str_local(var);
                    self.ins(InstData::ArrayGetStr { dst, array: a, key }, span);
                }
                _ => self
                    .m
                    .malformed(span, "`foreach` value variable of the wrong type"),
            }
        }
        self.loops.push((header, exit));
        self.stmt(&fe.body);
        self.loops.pop();
        self.jump(header, vec![], span);
        self.seal(header);
        self.seal(exit);
        self.switch_to(exit);
        self.ins(InstData::ArrayIterEnd { handle }, span);
    }
}

// ---- functions/strings ----

/// Lower recursive function `func` as `Module::functions[index]`: argument
/// 0 is the call depth, checked against MAXNESTING on entry; the script's
/// parameters follow; `return` becomes `ReturnValue`.
fn lower_recursive<'a>(
    m: &mut ModCx<'a>,
    probe: &'a Probe,
    point: &'a ProbePoint,
    func: FuncId,
    index: usize,
) -> Function {
    let script = m.script;
    let name = match script.functions.get(func) {
        Some(fd) => format!("fn_{}_{index}", fd.name),
        None => format!("fn_{index}"),
    };
    let mut cx = FnCx::new(m, probe, point, name);
    // Only userspace programs call recursive functions.
    cx.userspace = true;
    let Some(fd) = script.functions.get(func) else {
        cx.m.malformed(probe.body.span, "call of a function that does not exist");
        return cx.f;
    };
    cx.frames = vec![&fd.locals];
    cx.frame = 0;
    cx.call_stack = vec![func];
    let span = fd.body.span;
    let depth = cx.val(InstData::Arg { index: 0 }, span);
    cx.call_depth = Some(depth);
    let max = cx.iconst(i64::from(cx.m.max_nesting), span);
    let deep = cx.val(
        InstData::Icmp {
            cond: IntCC::Sgt,
            args: [depth, max],
        },
        span,
    );
    let loc = cx.m.location(span);
    cx.check(
        deep,
        "MAXNESTING exceeded",
        format!("near identifier '{}' at {loc}", fd.name),
        span,
    );
    for (i, p) in fd.params.iter().enumerate() {
        let v = cx.val(
            InstData::Arg {
                index: i as u32 + 1,
            },
            span,
        );
        let var = cx.var(*p);
        cx.write_var(var, cx.cur, v);
    }
    let ret_b = cx.new_block();
    let result = cx.f.append_block_param(ret_b);
    cx.ret = Some(Ret {
        block: ret_b,
        ty: Some(ScalarType::Long),
        slot: None,
    });
    cx.stmt(&fd.body);
    let end = Span {
        start: fd.body.span.end.saturating_sub(1),
        ..fd.body.span
    };
    cx.return_stmt(None, end);
    cx.seal(ret_b);
    cx.switch_to(ret_b);
    cx.terminate(InstData::ReturnValue { arg: result }, end);
    for b in cx.f.layout.clone() {
        if !cx.sealed[b] {
            cx.seal(b);
        }
    }
    cx.f
}

impl FnCx<'_, '_> {
    /// A call of a recursive function: a real `Call` in userspace probes
    /// (long parameters and result only, at most three parameters, no
    /// string locals), an error in kernel probes.
    fn recursive_call(&mut self, e: &Expr, func: FuncId, args: &[Expr]) -> Val {
        let span = e.span;
        let script = self.m.script;
        let Some(fd) = script.functions.get(func) else {
            self.m
                .malformed(span, "call of a function that does not exist");
            return self.dummy(e);
        };
        if !self.userspace() {
            self.m.unsupported(
                span,
                &format!(
                    "recursive functions in kernel probes (`{}` calls itself; the kernel allows no recursion)",
                    fd.name
                ),
            );
            return self.dummy(e);
        }
        // String locals and temporaries live in a scratch frame per call
        // depth; strings cannot be passed in registers.
        let string_params = fd.params.iter().any(|p| {
            fd.locals
                .get(*p)
                .is_some_and(|l| l.ty == ScalarType::String)
        });
        if fd.ret == Some(ScalarType::String) || string_params {
            self.m.unsupported(
                span,
                &format!(
                    "string parameters or results of recursive functions (`{}`)",
                    fd.name
                ),
            );
            return self.dummy(e);
        }
        if fd.params.len() > ir::MAX_CALL_ARGS - 1 {
            self.m.unsupported(
                span,
                &format!(
                    "recursive functions with more than {} parameters (`{}`)",
                    ir::MAX_CALL_ARGS - 1,
                    fd.name
                ),
            );
            return self.dummy(e);
        }
        if args.len() != fd.params.len() {
            self.m.malformed(span, "wrong number of arguments");
            return self.dummy(e);
        }
        let index = match self.m.rec_funcs.iter().position(|(f, _, _)| *f == func) {
            Some(i) => i,
            None => {
                self.m.rec_funcs.push((func, self.probe, self.point));
                self.m.rec_funcs.len() - 1
            }
        };
        let mut vals = Vec::with_capacity(args.len() + 1);
        let depth = match self.call_depth {
            Some(d) => {
                let one = self.iconst(1, span);
                self.val(
                    InstData::Binary {
                        op: ir::BinaryOp::Add,
                        args: [d, one],
                    },
                    span,
                )
            }
            None => self.iconst(1, span),
        };
        vals.push(depth);
        for a in args {
            vals.push(self.long(a));
        }
        let r = self.val(
            InstData::Call {
                func: index as u32,
                args: vals,
            },
            span,
        );
        match fd.ret {
            Some(_) => Val::Long(r),
            None => Val::Void,
        }
    }
}

/// Offsets of the first six function arguments in x86-64 `struct pt_regs`
/// (di, si, dx, cx, r8, r9), what kprobe and perf-event contexts start with.
const PT_REGS_ARGS: [u32; 6] = [112, 104, 96, 88, 72, 64];
/// Offset of ax (the return value) in x86-64 `struct pt_regs`.
const PT_REGS_RC: u32 = 80;

impl FnCx<'_, '_> {
    /// `$name`: a load from the probe's context (tracepoint fields and
    /// syscall arguments at the offset the frontend resolved; function
    /// arguments and return values from pt_regs on x86-64).
    fn target_var(&mut self, e: &Expr, t: &stapc_frontend::script::TargetVar) -> Val {
        use stapc_frontend::script::TargetAccess;
        let span = e.span;
        if self.userspace() {
            self.m.unsupported(
                span,
                &format!("target variables (${}) in begin/end/error probes", t.name),
            );
            return self.dummy(e);
        }
        let (offset, size, signed) = match t.access {
            TargetAccess::Field {
                offset,
                size,
                signed,
            } => (offset, size, signed),
            TargetAccess::Arg(n) => {
                match PT_REGS_ARGS.get(n as usize) {
                    Some(&off) => (off, 8, true),
                    None => {
                        self.m.unsupported(
                        span,
                        &format!("target variable ${}: argument {} (only the first 6 are in registers)", t.name, n + 1),
                    );
                        return self.dummy(e);
                    }
                }
            }
            TargetAccess::Return => (PT_REGS_RC, 8, true),
        };
        if !matches!(size, 1 | 2 | 4 | 8) || offset % size != 0 || offset > 0xffff {
            self.m.unsupported(
                span,
                &format!(
                    "target variable ${} ({size} bytes at offset {offset}: not a naturally aligned integer)",
                    t.name
                ),
            );
            return self.dummy(e);
        }
        if matches!(t.access, TargetAccess::Field { .. })
            && !self.f.ctx_fields.iter().any(|f| f.name == t.name)
        {
            self.f.ctx_fields.push(stapc_bpf::CtxField {
                name: t.name.clone(),
                offset,
                size: size as u8,
            });
        }
        Val::Long(self.val(
            InstData::LoadCtx {
                offset,
                size: size as u8,
                signed,
            },
            span,
        ))
    }
}

impl FnCx<'_, '_> {
    /// `kernel_string(addr)`, `user_string(addr)`, `kernel_long(addr)`,
    /// `kernel_int(addr)`, `user_long(addr)`, `user_int(addr)`: a
    /// `probe_read*` of kernel or user memory; a fault is SystemTap's
    /// runtime error ("user string copy fault …"), which `try` catches.
    fn memory_builtin(&mut self, e: &Expr, func: Builtin, args: &[Expr]) -> Val {
        let span = e.span;
        let name = builtin_name(func);
        if self.userspace() {
            self.m.unsupported(
                span,
                &format!("{name}() in begin/end/error probes (they run in stapc's own process, not in a traced task)"),
            );
            return self.dummy(e);
        }
        let [arg] = args else {
            self.m.malformed(span, "wrong number of arguments");
            return self.dummy(e);
        };
        let (space, string, size, what) = match func {
            Builtin::KernelString => (MemSpace::Kernel, true, self.m.msl, "kernel string"),
            Builtin::UserString => (MemSpace::User, true, self.m.msl, "user string"),
            Builtin::KernelLong => (MemSpace::Kernel, false, 8, "kernel long"),
            Builtin::KernelInt => (MemSpace::Kernel, false, 4, "kernel int"),
            Builtin::UserLong => (MemSpace::User, false, 8, "user long"),
            _ => (MemSpace::User, false, 4, "user int"),
        };
        let addr = self.long(arg);
        let dst = if string {
            self.temp()
        } else {
            // An 8-byte word; a 4-byte read fills its low half, so zero it
            // first (the verifier wants the whole word written before the load).
            let s = self.f.create_slot(8);
            if size < 8 {
                let z = self.iconst(0, span);
                self.ins(
                    InstData::KeyStore {
                        key: s,
                        offset: 0,
                        arg: z,
                    },
                    span,
                );
            }
            s
        };
        let r = self.val(
            InstData::ProbeRead {
                space,
                dst,
                addr,
                size,
                string,
            },
            span,
        );
        let failed = self.compare_to_zero(IntCC::Slt, r, span);
        let location = self.builtin_location(span, func);
        self.check(
            failed,
            &format!("{what} copy fault [man error::fault]"),
            location,
            span,
        );
        if string {
            return Val::Str(dst);
        }
        let v = self.val(
            InstData::KeyLoad {
                key: dst,
                offset: 0,
            },
            span,
        );
        Val::Long(if size < 8 {
            self.sign_extend_32(v, span)
        } else {
            v
        })
    }

    /// `(v << 32) >> 32`, arithmetic: the low 32 bits as a signed int.
    fn sign_extend_32(&mut self, v: Value, span: Span) -> Value {
        let k = self.iconst(32, span);
        let up = self.val(
            InstData::Binary {
                op: ir::BinaryOp::Shl,
                args: [v, k],
            },
            span,
        );
        self.val(
            InstData::Binary {
                op: ir::BinaryOp::AShr,
                args: [up, k],
            },
            span,
        )
    }

    /// `int_arg(n)`, `long_arg(n)`, `uint_arg(n)`, `ulong_arg(n)`,
    /// `pointer_arg(n)` and `returnval()`: argument registers (the first
    /// six, x86-64 calling convention) and the return register of a
    /// `kernel.function` or `process.function` probe.
    fn register_builtin(&mut self, e: &Expr, func: Builtin, args: &[Expr]) -> Val {
        let span = e.span;
        let name = builtin_name(func);
        if !matches!(
            self.point.kind,
            PointKind::KernelFunction { .. } | PointKind::Process { .. }
        ) {
            self.m.unsupported(
                span,
                &format!("{name}() outside kernel.function and process.function probes (only their context holds the registers)"),
            );
            return self.dummy(e);
        }
        let offset = if func == Builtin::Returnval {
            PT_REGS_RC
        } else {
            let n = match args {
                [a] => {
                    let v = self.long(a);
                    self.f.const_value(v)
                }
                _ => None,
            };
            match n
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| (1..=6).contains(n))
            {
                Some(n) => PT_REGS_ARGS[n - 1],
                None => {
                    self.m.unsupported(
                        args.first().map_or(span, |a| a.span),
                        &format!("{name}() of anything but a constant 1 to 6 (the arguments passed in registers)"),
                    );
                    return self.dummy(e);
                }
            }
        };
        // Always a full register (perf-event contexts allow nothing narrower).
        let v = self.val(
            InstData::LoadCtx {
                offset,
                size: 8,
                signed: false,
            },
            span,
        );
        Val::Long(match func {
            Builtin::IntArg => self.sign_extend_32(v, span),
            Builtin::UintArg => {
                let mask = self.iconst(0xffff_ffff, span);
                self.val(
                    InstData::Binary {
                        op: ir::BinaryOp::And,
                        args: [v, mask],
                    },
                    span,
                )
            }
            _ => v,
        })
    }
}

/// Divisors of `gettimeofday_*` from nanoseconds.
fn gettimeofday_divisor(func: Builtin) -> Option<i64> {
    Some(match func {
        Builtin::GettimeofdayS => 1_000_000_000,
        Builtin::GettimeofdayMs => 1_000_000,
        Builtin::GettimeofdayUs => 1_000,
        Builtin::GettimeofdayNs => 1,
        _ => return None,
    })
}

/// Largest `randint(n)` range (SystemTap's limit: 2^20).
pub const RANDINT_MAX: i64 = 1 << 20;

impl FnCx<'_, '_> {
    /// Report a built-in that only userspace probes (begin/end/error) have;
    /// `Some(dummy)` when the current probe is a kernel probe.
    fn userspace_only(&mut self, e: &Expr, func: Builtin) -> Option<Val> {
        if self.userspace() {
            return None;
        }
        self.m.unsupported(
            e.span,
            &format!(
                "{}() in kernel probes (only in begin/end/error probes)",
                builtin_name(func)
            ),
        );
        Some(self.dummy(e))
    }

    fn builtin_location(&self, span: Span, func: Builtin) -> String {
        let loc = self.m.location(span);
        format!("near identifier '{}' at {loc}", builtin_name(func))
    }

    /// Context and string built-ins of the functions/strings feature;
    /// `None` for the others.
    fn funcs_builtin(&mut self, e: &Expr, func: Builtin, args: &[Expr]) -> Option<Val> {
        let span = e.span;
        let want = match func {
            Builtin::Target
            | Builtin::Ppid
            | Builtin::Euid
            | Builtin::Jiffies
            | Builtin::GettimeofdayS
            | Builtin::GettimeofdayMs
            | Builtin::GettimeofdayUs
            | Builtin::GettimeofdayNs => 0,
            Builtin::Strlen | Builtin::TextStr | Builtin::Randint => 1,
            Builtin::Isinstr | Builtin::Strtol => 2,
            Builtin::Substr | Builtin::StrReplace => 3,
            _ => return None,
        };
        if args.len() != want {
            self.m.malformed(span, "wrong number of arguments");
            return Some(self.dummy(e));
        }
        let ctx = match func {
            Builtin::Target => Some(ContextOp::Target),
            Builtin::Ppid => Some(ContextOp::Ppid),
            Builtin::Euid => Some(ContextOp::Euid),
            Builtin::Jiffies => Some(ContextOp::Jiffies),
            _ => None,
        };
        if let Some(op) = ctx {
            if matches!(op, ContextOp::Ppid | ContextOp::Euid) {
                if let Some(v) = self.userspace_only(e, func) {
                    return Some(v);
                }
            }
            if op == ContextOp::Jiffies
                && !self.userspace()
                && !self.m.target.has_probe_read_kernel()
            {
                // bpf_jiffies64 arrived with 5.5, like probe_read_kernel.
                self.m
                    .unsupported(span, "jiffies() in kernel probes on kernels before 5.5");
                return Some(self.dummy(e));
            }
            return Some(Val::Long(self.val(InstData::Context { op }, span)));
        }
        if let Some(div) = gettimeofday_divisor(func) {
            let ns = self.val(
                InstData::Context {
                    op: ContextOp::RealtimeNs,
                },
                span,
            );
            if div == 1 {
                return Some(Val::Long(ns));
            }
            let d = self.iconst(div, span);
            return Some(Val::Long(self.val(
                InstData::Binary {
                    op: ir::BinaryOp::SDiv,
                    args: [ns, d],
                },
                span,
            )));
        }
        match func {
            Builtin::Randint => {
                let n = self.long(&args[0]);
                // 1 <= n <= 2^20, else a runtime error (as SystemTap).
                let one = self.iconst(1, span);
                let off = self.val(
                    InstData::Binary {
                        op: ir::BinaryOp::Sub,
                        args: [n, one],
                    },
                    span,
                );
                let max = self.iconst(RANDINT_MAX - 1, span);
                let bad = self.val(
                    InstData::Icmp {
                        cond: IntCC::Ugt,
                        args: [off, max],
                    },
                    span,
                );
                let loc = self.builtin_location(span, func);
                self.check(bad, "randint: range must be 1 to 1048576", loc, span);
                let r = self.val(
                    InstData::Context {
                        op: ContextOp::Prandom,
                    },
                    span,
                );
                Some(Val::Long(self.val(
                    InstData::Binary {
                        op: ir::BinaryOp::SRem,
                        args: [r, n],
                    },
                    span,
                )))
            }
            Builtin::Strlen => {
                let s = self.string(&args[0]);
                Some(Val::Long(self.val(
                    InstData::StrOp {
                        op: ir::StrOp::Len,
                        dst: None,
                        srcs: vec![s],
                        args: vec![],
                    },
                    span,
                )))
            }
            Builtin::Isinstr | Builtin::Strtol => {
                if let Some(v) = self.userspace_only(e, func) {
                    return Some(v);
                }
                let s = self.string(&args[0]);
                let (op, srcs, vals) = if func == Builtin::Isinstr {
                    let t = self.string(&args[1]);
                    (ir::StrOp::Isinstr, vec![s, t], vec![])
                } else {
                    let base = self.long(&args[1]);
                    // Bases 0 (from the prefix) and 2..=36 only.
                    let thirty_six = self.iconst(36, span);
                    let big = self.val(
                        InstData::Icmp {
                            cond: IntCC::Ugt,
                            args: [base, thirty_six],
                        },
                        span,
                    );
                    let one = self.iconst(1, span);
                    let is_one = self.val(
                        InstData::Icmp {
                            cond: IntCC::Eq,
                            args: [base, one],
                        },
                        span,
                    );
                    let bad = self.val(
                        InstData::Binary {
                            op: ir::BinaryOp::Or,
                            args: [big, is_one],
                        },
                        span,
                    );
                    let loc = self.builtin_location(span, func);
                    self.check(
                        bad,
                        "strtol: invalid base (must be 0 or 2 to 36)",
                        loc,
                        span,
                    );
                    (ir::StrOp::Strtol, vec![s], vec![base])
                };
                Some(Val::Long(self.val(
                    InstData::StrOp {
                        op,
                        dst: None,
                        srcs,
                        args: vals,
                    },
                    span,
                )))
            }
            Builtin::Substr | Builtin::StrReplace | Builtin::TextStr => {
                if func != Builtin::Substr {
                    if let Some(v) = self.userspace_only(e, func) {
                        return Some(v);
                    }
                }
                let s = self.string(&args[0]);
                let (op, srcs, vals) = match func {
                    Builtin::Substr => {
                        let start = self.long(&args[1]);
                        let len = self.long(&args[2]);
                        (ir::StrOp::Substr, vec![s], vec![start, len])
                    }
                    Builtin::StrReplace => {
                        let search = self.string(&args[1]);
                        let repl = self.string(&args[2]);
                        (ir::StrOp::Replace, vec![s, search, repl], vec![])
                    }
                    _ => (ir::StrOp::TextStr, vec![s], vec![]),
                };
                let dst = self.temp();
                self.ins(
                    InstData::StrOp {
                        op,
                        dst: Some(dst),
                        srcs,
                        args: vals,
                    },
                    span,
                );
                Some(Val::Str(dst))
            }
            _ => None,
        }
    }

    /// The format (literal arguments folded into its text at -O2) and its
    /// lowered arguments, for printf and sprintf alike.
    fn format_args(&mut self, format: &str, args: &[Expr]) -> (u32, Vec<OutArg>) {
        let folded = if self.m.fold_formats {
            fold_literal_args(format, args, self.m.msl)
        } else {
            None
        };
        let (format, kept): (&str, Vec<&Expr>) = match &folded {
            Some((text, keep)) => (text, keep.iter().map(|&i| &args[i]).collect()),
            None => (format, args.iter().collect()),
        };
        let mut out = Vec::with_capacity(kept.len());
        let mut kinds = Vec::with_capacity(kept.len());
        for a in kept {
            if a.ty == Type::String {
                out.push(OutArg::Str(self.string(a)));
                kinds.push(ArgKind::Str);
            } else {
                out.push(OutArg::Long(self.long(a)));
                kinds.push(ArgKind::Long);
            }
        }
        (self.m.format_id(format, kinds), out)
    }

    /// `sprintf(fmt, args…)` (and `sprint`/`sprintln`, which the frontend
    /// turns into formats): the stapc formatting helper in userspace probes.
    fn sprintf(&mut self, e: &Expr, format: &str, args: &[Expr]) -> Val {
        let span = e.span;
        if !self.userspace() {
            self.m.unsupported(
                span,
                "sprintf/sprint in kernel probes (only in begin/end/error probes; use printf)",
            );
            return self.dummy(e);
        }
        let (format, out) = self.format_args(format, args);
        let dst = self.temp();
        self.ins(
            InstData::Sprintf {
                dst,
                format,
                args: out,
            },
            span,
        );
        Val::Str(dst)
    }
}

/// Splice literal arguments into a format where their conversion is a plain
/// `%s` (string literal) or `%d`/`%i` (number literal): the record then has
/// no bytes for them and, in a kernel program, no scratch writes. Returns
/// the new text and the indexes of the arguments that stay; `None` when
/// nothing folds or the format is not understood (`*` widths, a count
/// mismatch, strings the runtime would truncate or cut at a NUL).
fn fold_literal_args(format: &str, args: &[Expr], msl: u32) -> Option<(String, Vec<usize>)> {
    let mut out = String::with_capacity(format.len());
    let mut keep = Vec::new();
    let mut folded = false;
    let mut n = 0;
    let mut chars = format.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if let Some(&(_, '%')) = chars.peek() {
            chars.next();
            out.push_str("%%");
            continue;
        }
        // flags, width, precision, conversion
        let mut end = start + 1;
        let mut conv = None;
        for (i, c) in chars.by_ref() {
            end = i + c.len_utf8();
            match c {
                '-' | '+' | ' ' | '#' | '0'..='9' | '.' => continue,
                '*' => return None,
                _ => {
                    conv = Some(c);
                    break;
                }
            }
        }
        conv?;
        let spec = &format[start..end];
        let arg = args.get(n)?;
        match (spec, &arg.kind) {
            ("%s", ExprKind::Str(lit)) if !lit.contains('\0') && lit.len() < msl as usize => {
                out.push_str(&lit.replace('%', "%%"));
                folded = true;
            }
            ("%d" | "%i", ExprKind::Number(v)) => {
                out.push_str(&v.to_string());
                folded = true;
            }
            _ => {
                out.push_str(spec);
                keep.push(n);
            }
        }
        n += 1;
    }
    (folded && n == args.len()).then_some((out, keep))
}

fn int_cc(op: CmpOp) -> IntCC {
    match op {
        CmpOp::Eq => IntCC::Eq,
        CmpOp::Ne => IntCC::Ne,
        CmpOp::Lt => IntCC::Slt,
        CmpOp::Le => IntCC::Sle,
        CmpOp::Gt => IntCC::Sgt,
        CmpOp::Ge => IntCC::Sge,
    }
}

/// `KtimeGetNs` → `ktime_get_ns`.
fn builtin_name(b: Builtin) -> String {
    let camel = format!("{b:?}");
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
