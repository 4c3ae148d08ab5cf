//! Full loop unrolling for kernel probes. A natural loop whose header exits
//! on `icmp cc, counter, constant`, where the counter is a header parameter
//! entering with a constant and stepped by a constant (`iadd`/`isub`) on
//! every back-edge, has a trip count found by running the counter; the loop
//! is then copied once per iteration (header copies jump straight on, the
//! last one straight out) and SSA is repaired for values used after the
//! loop. Innermost loops go first. A loop that does not fit the budget is
//! not unrolled (and not even copied): the caller reports it.

use crate::cfg::Cfg;
use crate::ir::{BinaryOp, Block, BlockData, Function, InstData, Value, ValueDef};
use crate::passes::constfold::eval_binary;
use crate::passes::{eliminate_unreachable_code, remove_trivial_params};
use cranelift_entity::SecondaryMap;
use rustc_hash::FxHashMap;
use stapc_frontend::Span;

/// Trip counts are found by running the counter, at most this many steps.
pub const MAX_TRIPS: u64 = 1 << 24;

/// IR instructions one loop may unroll into (memory, compile time), however
/// large the target's instruction limit.
pub const MAX_UNROLLED_IR: u64 = 400_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnrollError {
    /// The loop's trip count cannot be bounded at compile time.
    NotBounded { span: Span, reason: String },
    /// The trip count is known (`None`: more than `MAX_TRIPS`) but the
    /// unrolled function would cost `total` instructions, over the limit.
    TooBig {
        span: Span,
        trips: Option<u64>,
        iteration_cost: u64,
        total: u64,
    },
    /// It would fit the target, but unrolling would build more than
    /// `MAX_UNROLLED_IR` IR instructions.
    TooManyCopies {
        span: Span,
        trips: u64,
        ir_insts: u64,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnrollStats {
    pub loops: u32,
    pub copies: u64,
}

/// Unroll every loop of `func`, innermost first. `cost` estimates one
/// instruction; `limit` bounds the whole function's estimated cost.
pub fn unroll_loops(
    func: &mut Function,
    cost: &dyn Fn(&InstData) -> u64,
    base_cost: u64,
    limit: u64,
) -> Result<UnrollStats, UnrollError> {
    let mut stats = UnrollStats::default();
    loop {
        let cfg = Cfg::compute(func);
        let back = cfg.back_edges();
        if back.is_empty() {
            return Ok(stats);
        }
        let mut headers: Vec<Block> = back.iter().map(|e| e.to).collect();
        headers.sort_by_key(|h| cfg.rpo_position(*h));
        headers.dedup();
        // Innermost first: a loop containing no other header. When its trip
        // count depends on an enclosing loop's counter (`j < i`), unroll the
        // enclosing loop first: each copy then has a constant bound.
        let loops: Vec<(Block, Vec<Block>)> =
            headers.iter().map(|&h| (h, cfg.natural_loop(h))).collect();
        let innermost = loops
            .iter()
            .rev()
            .find(|(h, body)| !headers.iter().any(|&o| o != *h && body.contains(&o)))
            .or(loops.last())
            .cloned();
        let Some((inner, inner_body)) = innermost else {
            return Ok(stats);
        };
        let mut candidates = vec![(inner, inner_body)];
        let mut enclosing: Vec<(Block, Vec<Block>)> = loops
            .iter()
            .filter(|(h, body)| *h != inner && body.contains(&inner))
            .cloned()
            .collect();
        // Innermost enclosing loop first.
        enclosing.sort_by_key(|(_, body)| body.len());
        candidates.extend(enclosing);
        let mut first_err = None;
        let mut chosen = None;
        for (h, body) in candidates {
            match analyze(func, &cfg, h, &body) {
                Ok(plan) => {
                    chosen = Some((h, body, plan));
                    break;
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let Some((header, body, plan)) = chosen else {
            return Err(first_err.unwrap_or(UnrollError::NotBounded {
                span: Span::default(),
                reason: "the loop has no counter".into(),
            }));
        };
        // What the loop costs as it stands, and what one unrolled iteration
        // will cost once the counter is a constant in it (see `residual_cost`).
        let loop_cost: u64 = body
            .iter()
            .flat_map(|&b| func.blocks[b].insts.iter())
            .map(|&i| cost(&func.insts[i]))
            .sum();
        let iteration_cost = residual_cost(func, &body, header, plan.counter, cost);
        let loop_ir: u64 = body
            .iter()
            .map(|&b| func.blocks[b].insts.len() as u64)
            .sum();
        let whole: u64 = base_cost
            + func
                .layout
                .iter()
                .flat_map(|&b| func.blocks[b].insts.iter())
                .map(|&i| cost(&func.insts[i]))
                .sum::<u64>();
        let span = func.srclocs[func.blocks[header].insts[func.blocks[header].insts.len() - 1]];
        let Some(trips) = plan.trips else {
            return Err(UnrollError::TooBig {
                span,
                trips: None,
                iteration_cost,
                total: u64::MAX,
            });
        };
        let total = whole
            .saturating_sub(loop_cost)
            .saturating_add(trips.saturating_mul(iteration_cost));
        if total > limit {
            return Err(UnrollError::TooBig {
                span,
                trips: Some(trips),
                iteration_cost,
                total,
            });
        }
        let ir = trips.saturating_mul(loop_ir);
        if ir > MAX_UNROLLED_IR {
            return Err(UnrollError::TooManyCopies {
                span,
                trips,
                ir_insts: ir,
            });
        }
        unroll(func, header, &body, &plan, trips);
        // Copies of inner loops now compare against constants built from
        // the copied counter: fold them so the next round sees constants.
        crate::passes::fold_constants(func);
        stats.loops += 1;
        stats.copies += trips;
    }
}

struct Plan {
    trips: Option<u64>,
    /// Index of the counter among the header's parameters.
    counter: usize,
    /// The header's edge into the loop (0 = then, 1 = else); the other exits.
    into_loop: usize,
}

fn analyze(func: &Function, cfg: &Cfg, h: Block, body: &[Block]) -> Result<Plan, UnrollError> {
    let term = func.blocks[h].insts[func.blocks[h].insts.len() - 1];
    let span = func.srclocs[term];
    let konst = |v: Value| const_eval(func, v, 0);
    let not_bounded = |reason: &str| UnrollError::NotBounded {
        span,
        reason: reason.to_string(),
    };
    let in_loop = |b: Block| body.contains(&b);
    let InstData::Brif {
        cond,
        then_dest,
        else_dest,
        ..
    } = &func.insts[term]
    else {
        return Err(not_bounded("the loop has no condition"));
    };
    let into_loop = match (in_loop(*then_dest), in_loop(*else_dest)) {
        (true, false) => 0,
        (false, true) => 1,
        _ => {
            return Err(not_bounded(
                "the loop's condition does not decide whether it ends",
            ))
        }
    };
    let Some(InstData::Icmp { cond: cc, args }) = func.value_inst(*cond).map(|i| &func.insts[i])
    else {
        return Err(not_bounded("the loop's condition is not a comparison"));
    };
    // Normalise to `counter cc constant`.
    let param_index = |v: Value| match func.values[v] {
        ValueDef::Param(b, n) if b == h => Some(n as usize),
        _ => None,
    };
    let (j, limit, cc) = match (
        param_index(args[0]),
        konst(args[1]),
        param_index(args[1]),
        konst(args[0]),
    ) {
        (Some(j), Some(c), _, _) => (j, c, *cc),
        (_, _, Some(j), Some(c)) => (j, c, swap(*cc)),
        _ => {
            return Err(not_bounded(
                "the loop's condition does not compare a counter against a constant",
            ))
        }
    };
    let p = func.blocks[h].params[j];
    let mut init = None;
    let mut step: Option<Value> = None;
    for e in cfg.preds(h) {
        let edges = func.insts[e.inst].edges();
        let Some(&arg) = edges.get(e.edge).and_then(|x| x.2.get(j)) else {
            return Err(not_bounded("the loop's header has a malformed edge"));
        };
        if in_loop(e.from) {
            if step.is_some_and(|s| s != arg) {
                return Err(not_bounded(
                    "the loop's counter changes in more than one way",
                ));
            }
            step = Some(arg);
        } else {
            let Some(c) = konst(arg) else {
                return Err(not_bounded(
                    "the loop's counter does not start at a constant",
                ));
            };
            if init.is_some_and(|i| i != c) {
                return Err(not_bounded(
                    "the loop's counter does not start at a constant",
                ));
            }
            init = Some(c);
        }
    }
    let (Some(init), Some(step)) = (init, step) else {
        return Err(not_bounded("the loop has no counter"));
    };
    let (op, k) = if step == p {
        (BinaryOp::Add, 0)
    } else {
        match func.value_inst(step).map(|i| &func.insts[i]) {
            Some(InstData::Binary {
                op: op @ (BinaryOp::Add | BinaryOp::Sub),
                args,
            }) => match (args[0] == p, konst(args[1]), args[1] == p, konst(args[0])) {
                (true, Some(k), _, _) => (*op, k),
                (_, _, true, Some(k)) if *op == BinaryOp::Add => (BinaryOp::Add, k),
                _ => {
                    return Err(not_bounded(
                        "the loop's counter does not change by a constant step",
                    ))
                }
            },
            _ => {
                return Err(not_bounded(
                    "the loop's counter does not change by a constant step",
                ))
            }
        }
    };
    // Run the counter.
    let mut x = init;
    let mut n: u64 = 0;
    loop {
        let holds = cc.eval(x, limit);
        let continues = if into_loop == 0 { holds } else { !holds };
        if !continues {
            return Ok(Plan {
                trips: Some(n),
                counter: j,
                into_loop,
            });
        }
        if k == 0 {
            return Err(not_bounded(
                "the loop's counter never changes, so the loop never ends",
            ));
        }
        n += 1;
        if n > MAX_TRIPS {
            return Ok(Plan {
                trips: None,
                counter: j,
                into_loop,
            });
        }
        x = eval_binary(op, x, k).unwrap_or(x);
    }
}

/// The estimated cost of one iteration once unrolled and folded: in a copy
/// the counter is a constant, so whatever is computed from it and from
/// constants (the condition, the step, address arithmetic on the counter)
/// folds away, the header's branch becomes a jump and straight-line jumps
/// merge. What remains is the rest of the body, plus a move for each
/// constant operand it now takes.
fn residual_cost(
    func: &Function,
    body: &[Block],
    header: Block,
    counter: usize,
    cost: &dyn Fn(&InstData) -> u64,
) -> u64 {
    let mut known: FxHashMap<Value, ()> = FxHashMap::default();
    if let Some(&p) = func.blocks[header].params.get(counter) {
        known.insert(p, ());
    }
    let is_known = |known: &FxHashMap<Value, ()>, v: Value| {
        known.contains_key(&v) || const_eval(func, v, 0).is_some()
    };
    let mut total = 0;
    // `body` is in reverse postorder: definitions before uses.
    for &b in body {
        for &i in &func.blocks[b].insts {
            let data = &func.insts[i];
            let args = data.args();
            let folds = match data {
                InstData::Iconst { .. } => true,
                InstData::Unary { .. } | InstData::Binary { .. } | InstData::Icmp { .. } => {
                    args.iter().all(|&a| is_known(&known, a))
                }
                InstData::Brif { cond, .. } => is_known(&known, *cond),
                InstData::Jump { dest, .. } => {
                    *dest == header || func.blocks[*dest].params.is_empty()
                }
                _ => false,
            };
            if folds {
                if let Some(v) = func.result(i) {
                    known.insert(v, ());
                }
                continue;
            }
            total += cost(data) + args.iter().filter(|&&a| is_known(&known, a)).count() as u64;
        }
    }
    total.max(1)
}

/// The value of `v` if it is computed from constants alone (so -O0, which
/// does not fold, unrolls the same loops as -O2).
fn const_eval(func: &Function, v: Value, depth: u32) -> Option<i64> {
    if depth > 32 {
        return None;
    }
    let inst = func.value_inst(v)?;
    match &func.insts[inst] {
        InstData::Iconst { imm } => Some(*imm),
        InstData::Unary { op, arg } => Some(crate::passes::constfold::eval_unary(
            *op,
            const_eval(func, *arg, depth + 1)?,
        )),
        InstData::Binary { op, args } => eval_binary(
            *op,
            const_eval(func, args[0], depth + 1)?,
            const_eval(func, args[1], depth + 1)?,
        ),
        InstData::Icmp { cond, args } => Some(crate::ir::IntCC::eval(
            *cond,
            const_eval(func, args[0], depth + 1)?,
            const_eval(func, args[1], depth + 1)?,
        ) as i64),
        _ => None,
    }
}

fn swap(cc: crate::ir::IntCC) -> crate::ir::IntCC {
    use crate::ir::IntCC::*;
    match cc {
        Eq => Eq,
        Ne => Ne,
        Slt => Sgt,
        Sle => Sge,
        Sgt => Slt,
        Sge => Sle,
        Ult => Ugt,
        Ule => Uge,
        Ugt => Ult,
        Uge => Ule,
    }
}

fn unroll(func: &mut Function, h: Block, body: &[Block], plan: &Plan, trips: u64) {
    let n = trips as usize;
    let in_loop: FxHashMap<Block, ()> = body.iter().map(|&b| (b, ())).collect();
    let last_pos = func
        .layout
        .iter()
        .rposition(|b| in_loop.contains_key(b))
        .unwrap_or(func.layout.len() - 1);
    // copies[k][block] for k = 1..=n (copy 0 is the original); the last copy
    // is the header only.
    let mut block_maps: Vec<FxHashMap<Block, Block>> = vec![body.iter().map(|&b| (b, b)).collect()];
    let mut value_maps: Vec<FxHashMap<Value, Value>> = vec![FxHashMap::default()];
    let mut new_blocks = Vec::new();
    for k in 1..=n {
        let blocks: Vec<Block> = if k == n { vec![h] } else { body.to_vec() };
        let mut bmap = FxHashMap::default();
        let mut vmap = FxHashMap::default();
        for &b in &blocks {
            let nb = func.blocks.push(BlockData::default());
            new_blocks.push(nb);
            bmap.insert(b, nb);
            for &p in &func.blocks[b].params.clone() {
                let np = func.append_block_param(nb);
                vmap.insert(p, np);
            }
            for &i in &func.blocks[b].insts.clone() {
                let data = func.insts[i].clone();
                let span = func.srclocs[i];
                if let Some(v) = func.append(nb, data, span) {
                    if let Some(old) = func.result(i) {
                        vmap.insert(old, v);
                    }
                }
            }
        }
        block_maps.push(bmap);
        value_maps.push(vmap);
    }
    // Rewire every copy, the original included.
    for k in 0..=n {
        let bmap = &block_maps[k];
        let vmap = &value_maps[k];
        let next_header = block_maps.get(k + 1).and_then(|m| m.get(&h)).copied();
        let target = |t: Block| -> Block {
            if t == h {
                next_header.unwrap_or(t)
            } else {
                bmap.get(&t).copied().unwrap_or(t)
            }
        };
        let mut blocks: Vec<(Block, Block)> = bmap.iter().map(|(&o, &c)| (o, c)).collect();
        blocks.sort();
        for (orig, copy) in blocks {
            let insts = func.blocks[copy].insts.clone();
            for &i in &insts {
                if k > 0 {
                    func.insts[i].map_values(|v| vmap.get(&v).copied().unwrap_or(v));
                }
            }
            let Some(&t) = insts.last() else { continue };
            if orig == h {
                // The counter decides: straight into the body, or (last) out.
                let edge = if k < n {
                    plan.into_loop
                } else {
                    1 - plan.into_loop
                };
                let edges = func.insts[t].edges();
                let Some(&(_, dest, args)) = edges.get(edge) else {
                    continue;
                };
                let args = args.to_vec();
                let dest = if k < n { target(dest) } else { dest };
                func.insts[t] = InstData::Jump { dest, args };
            } else {
                func.insts[t].map_blocks(target);
            }
        }
    }
    let pos = (last_pos + 1).min(func.layout.len());
    func.layout.splice(pos..pos, new_blocks.iter().copied());
    eliminate_unreachable_code(func);
    repair_ssa(func, body, &block_maps, &value_maps);
    remove_trivial_params(func);
}

/// Values defined in the loop and used after it now have one definition per
/// copy: give each use outside the copies the reaching one, adding block
/// parameters where copies' paths meet (Braun et al.'s lookup, over a
/// complete CFG).
fn repair_ssa(
    func: &mut Function,
    body: &[Block],
    block_maps: &[FxHashMap<Block, Block>],
    value_maps: &[FxHashMap<Value, Value>],
) {
    let mut in_copies: SecondaryMap<Block, bool> = SecondaryMap::new();
    for m in block_maps {
        for &c in m.values() {
            in_copies[c] = true;
        }
    }
    // Values defined in the original loop blocks.
    let mut loop_defs: Vec<(Block, Value)> = Vec::new();
    for &b in body {
        for &p in &func.blocks[b].params {
            loop_defs.push((b, p));
        }
        for &i in &func.blocks[b].insts {
            if let Some(v) = func.result(i) {
                loop_defs.push((b, v));
            }
        }
    }
    let is_loop_def: FxHashMap<Value, Block> = loop_defs.iter().map(|&(b, v)| (v, b)).collect();
    // Uses outside the copies.
    let mut uses: Vec<(Block, crate::ir::Inst, Value)> = Vec::new();
    for &b in &func.layout {
        if in_copies[b] {
            continue;
        }
        for &i in &func.blocks[b].insts {
            for v in func.insts[i].args() {
                if is_loop_def.contains_key(&v) && !uses.iter().any(|u| u.1 == i && u.2 == v) {
                    uses.push((b, i, v));
                }
            }
        }
    }
    if uses.is_empty() {
        return;
    }
    let mut values: Vec<Value> = uses.iter().map(|u| u.2).collect();
    values.sort();
    values.dedup();
    for v in values {
        let def_block = is_loop_def[&v];
        let mut defs: FxHashMap<Block, Value> = FxHashMap::default();
        for (bm, vm) in block_maps.iter().zip(value_maps) {
            if let Some(&cb) = bm.get(&def_block) {
                defs.insert(cb, vm.get(&v).copied().unwrap_or(v));
            }
        }
        let mut memo: FxHashMap<Block, Value> = FxHashMap::default();
        // Adding parameters and arguments does not change the edges.
        let cfg = Cfg::compute(func);
        for &(b, i, w) in &uses {
            if w != v {
                continue;
            }
            let r = read_start(func, &cfg, &defs, &mut memo, b, v);
            func.insts[i].map_values(|x| if x == v { r } else { x });
        }
    }
}

fn read_end(
    func: &mut Function,
    cfg: &Cfg,
    defs: &FxHashMap<Block, Value>,
    memo: &mut FxHashMap<Block, Value>,
    b: Block,
    orig: Value,
) -> Value {
    match defs.get(&b) {
        Some(&d) => d,
        None => read_start(func, cfg, defs, memo, b, orig),
    }
}

fn read_start(
    func: &mut Function,
    cfg: &Cfg,
    defs: &FxHashMap<Block, Value>,
    memo: &mut FxHashMap<Block, Value>,
    b: Block,
    orig: Value,
) -> Value {
    if let Some(&v) = memo.get(&b) {
        return v;
    }
    let preds = cfg.preds(b).to_vec();
    let v = match preds.len() {
        // The entry: the original definition dominated every use, so this is
        // not reached in valid SSA; keep the use as it was.
        0 => orig,
        1 => read_end(func, cfg, defs, memo, preds[0].from, orig),
        _ => {
            let p = func.append_block_param(b);
            memo.insert(b, p);
            for e in preds {
                let a = read_end(func, cfg, defs, memo, e.from, orig);
                if let Some(args) = func.insts[e.inst].edge_args_mut(e.edge) {
                    args.push(a);
                }
            }
            p
        }
    };
    memo.insert(b, v);
    v
}
