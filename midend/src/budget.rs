//! The instruction budget: an estimate of the BPF instructions each IR
//! instruction becomes (a cost table the backend roughly matches), and the
//! check that a kernel program fits `Target::insn_limit`, reported in terms
//! of the script: which statements and loops cost what.

use crate::ir::{BinaryOp, Function, InstData, OutArg, ProbeFunction};
use stapc_bpf::Target;
use stapc_frontend::{Diagnostic, Span};

/// Diagnostic code: a kernel program does not fit the instruction limit.
pub const E_BUDGET: &str = "E0902";

/// Instructions every program spends before the handler's own code: the
/// control-map lookup and exit-flag test, the globals and scratch lookups
/// with their NULL checks.
pub const PROLOGUE_COST: u64 = 32;

/// Estimated BPF instructions of `s <<< v` (see `inst_cost`).
pub const STAT_ADD_COST: u64 = 108;

/// Estimated BPF instructions for one IR instruction.
pub fn inst_cost(data: &InstData, target: &Target, max_string_len: u32) -> u64 {
    let words = u64::from(max_string_len.div_ceil(8));
    match data {
        InstData::Iconst { imm } => {
            if i32::try_from(*imm).is_ok() {
                1
            } else {
                2
            }
        }
        InstData::Unary { .. } => 2,
        InstData::Binary {
            op: BinaryOp::SDiv | BinaryOp::SRem,
            ..
        } => {
            // Before ISA v4 there is only unsigned division: take absolute
            // values, divide, fix the sign up.
            if target.has_isa_v4() {
                2
            } else {
                12
            }
        }
        InstData::Binary { .. } => 2,
        InstData::Icmp { .. } => 4,
        InstData::LoadGlobal { .. }
        | InstData::StoreGlobal { .. }
        | InstData::AtomicAddGlobal { .. } => 1,
        // One store per 8 bytes; words that do not fit an imm32 take two.
        InstData::StrConst { value, .. } => {
            words + (value.len().min(max_string_len.saturating_sub(1) as usize) as u64).div_ceil(8)
        }
        InstData::StrLoadGlobal { .. }
        | InstData::StrStoreGlobal { .. }
        | InstData::StrCopy { .. } => 2 * words,
        // Zero the destination, then two bounded `probe_read_str` calls.
        InstData::StrConcat { .. } => words + 18,
        // Load, load, compare per word; the sign from byte-swapped words.
        InstData::StrCompare { .. } => 3 * words + 10,
        // Load and compare per word (a wide constant word: lddw too).
        InstData::StrCompareConst { .. } => 4 * words + 8,
        InstData::Context { .. } => 3,
        InstData::StrContext { .. } => 6 + words,
        // Every record send also counts a failed send (3 instructions).
        InstData::Printf { args, .. } => {
            13 + args
                .iter()
                .map(|a| match a {
                    OutArg::Long(_) => 1,
                    OutArg::Str(_) => 2 * words,
                })
                .sum::<u64>()
        }
        InstData::Exit => 13,
        // ---- arrays ----
        // Before 4.18 the key (and an update's value) is first copied to
        // the stack: a probe_read call or a few word copies.
        InstData::ArrayGet { .. }
        | InstData::ArrayGetStr { .. }
        | InstData::ArrayIn { .. }
        | InstData::ArrayDelete { .. }
        | InstData::ArraySet { .. }
        | InstData::ArraySetStr { .. }
        | InstData::ArrayAdd { .. }
            if target.kernel < stapc_bpf::KernelVersion::new(4, 18) =>
        {
            array_cost(data, words) + 8
        }
        InstData::KeyStore { .. }
        | InstData::KeyStoreStr { .. }
        | InstData::KeyLoad { .. }
        | InstData::KeyLoadStr { .. }
        | InstData::ArrayGet { .. }
        | InstData::ArrayGetStr { .. }
        | InstData::ArrayIn { .. }
        | InstData::ArrayDelete { .. }
        | InstData::ArraySet { .. }
        | InstData::ArraySetStr { .. }
        | InstData::ArrayAdd { .. }
        | InstData::ArrayClear { .. }
        | InstData::ArrayIterStart { .. }
        | InstData::ArrayIterNext { .. }
        | InstData::ArrayIterEnd { .. } => array_cost(data, words),
        // ---- statistics ----
        // Lookup with its NULL check and count/sum/min/max (~31), the log
        // bucket (branch-free ilog2 of |v|, ~62) and the linear bucket
        // (~15), as the backend emits it (107 with both): the worst case, as the histograms a statistic keeps are only known
        // once the whole script is lowered.
        InstData::StatAdd { .. } => STAT_ADD_COST,
        // Userspace only: one helper call.
        InstData::StatRead { .. } => 8,
        InstData::StatClear { .. } => 7,
        // A header-only record, like `exit`'s.
        InstData::PrintHist { .. } => 12,
        InstData::Jump { .. } => 1,
        InstData::Brif { .. } => 2,
        InstData::Return => 2,
        InstData::Trap { .. } => 17,
        InstData::TrapMsg { .. } => 17 + 2 * words,
        // ---- functions/strings ----
        // Kernel programs only get `strlen` (one bounded probe_read_str into
        // a scratch temporary); the rest are one stapc helper call each in
        // userspace programs, where the budget does not apply.
        InstData::StrOp {
            op: crate::ir::StrOp::Substr,
            ..
        } => words + 24,
        InstData::StrOp { srcs, args, .. } => 8 + 2 * (srcs.len() + args.len()) as u64,
        // Argument moves, the call, the error-count check around it.
        InstData::Call { args, .. } => 6 + args.len() as u64,
        InstData::Arg { .. } => 1,
        // The load, and two shifts to sign-extend a narrow field.
        InstData::LoadCtx { .. } => 3,
        // Zero a string destination, three argument moves, the call, the
        // result; the caller's fault check is a compare and branch of its own.
        InstData::ProbeRead { string, .. } => 6 + if *string { words } else { 0 },
        InstData::ReturnValue { .. } => 2,
        InstData::Sprintf { args, .. } => {
            10 + args
                .iter()
                .map(|a| match a {
                    OutArg::Long(_) => 1,
                    OutArg::Str(_) => 2 * words,
                })
                .sum::<u64>()
        }
    }
}

/// arrays: estimated BPF instructions of the array instructions (and 0
/// for the others, which `inst_cost` handles).
fn array_cost(data: &InstData, words: u64) -> u64 {
    match data {
        InstData::KeyStore { .. } | InstData::KeyLoad { .. } => 1,
        InstData::KeyStoreStr { .. } | InstData::KeyLoadStr { .. } => 2 * words,
        // Map pointer, key pointer, call, NULL test, load.
        InstData::ArrayGet { .. } | InstData::ArrayIn { .. } => 8,
        InstData::ArrayGetStr { .. } => 8 + 3 * words,
        // Value into scratch, then map_update_elem.
        InstData::ArraySet { .. } => 8,
        InstData::ArraySetStr { .. } => 7,
        // Lookup, atomic add, or insert.
        InstData::ArrayAdd { .. } => 16,
        InstData::ArrayDelete { .. } => 5,
        InstData::ArrayClear { .. }
        | InstData::ArrayIterStart { .. }
        | InstData::ArrayIterNext { .. }
        | InstData::ArrayIterEnd { .. } => 6,
        _ => 0,
    }
}

/// Estimated BPF instructions of a whole function (laid-out blocks only).
pub fn function_cost(func: &Function, target: &Target, max_string_len: u32) -> u64 {
    PROLOGUE_COST
        + func
            .layout
            .iter()
            .flat_map(|&b| func.blocks[b].insts.iter())
            .map(|&i| inst_cost(&func.insts[i], target, max_string_len))
            .sum::<u64>()
}

/// The script regions (statements, loops) that cost the most: instruction
/// spans merged where they overlap (an expression's span lies inside its
/// statement's, a loop's control instructions carry the loop's span), with
/// their summed costs, costliest first.
pub fn costly_regions(func: &Function, target: &Target, max_string_len: u32) -> Vec<(Span, u64)> {
    let mut spans: Vec<(Span, u64)> = func
        .layout
        .iter()
        .flat_map(|&b| func.blocks[b].insts.iter())
        .map(|&i| {
            (
                func.srclocs[i],
                inst_cost(&func.insts[i], target, max_string_len),
            )
        })
        .filter(|(s, _)| s.end > s.start)
        .collect();
    spans.sort_by_key(|(s, _)| (s.file, s.start, std::cmp::Reverse(s.end)));
    let mut regions: Vec<(Span, u64)> = Vec::new();
    for (s, c) in spans {
        match regions.last_mut() {
            Some((r, rc)) if r.file == s.file && s.start < r.end => {
                r.end = r.end.max(s.end);
                *rc += c;
            }
            _ => regions.push((s, c)),
        }
    }
    regions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.start.cmp(&b.0.start)));
    regions
}

/// Check that a kernel probe's program fits the target's limit: the error
/// when it does not.
pub fn check_budget(p: &ProbeFunction, target: &Target, max_string_len: u32) -> Option<Diagnostic> {
    let cost = function_cost(&p.func, target, max_string_len);
    let limit = u64::from(target.insn_limit());
    if cost <= limit {
        return None;
    }
    let mut d = Diagnostic::error(
        E_BUDGET,
        format!(
            "probe {} needs about {} BPF instructions, more than the {} the target allows",
            p.point, cost, limit
        ),
    );
    let regions = costly_regions(&p.func, target, max_string_len);
    for (n, (span, c)) in regions.iter().take(3).enumerate() {
        if n == 0 {
            d = d.with_primary(*span, format!("this costs ~{c} instructions"));
        } else {
            d = d.with_secondary(*span, format!("this costs ~{c}"));
        }
    }
    Some(d.with_help(budget_help(target)))
}

pub(crate) fn budget_help(target: &Target) -> String {
    let mut h = String::from(
        "split the work across probes, shorten loops, or use fewer or shorter strings",
    );
    if target.insn_limit() < 1_000_000 && target.kernel >= stapc_bpf::KernelVersion::new(5, 2) {
        h.push_str("; a privileged load on this kernel allows 1000000 instructions (--insn-limit)");
    }
    h
}

/// The error for a constant-trip loop that cannot be unrolled within the limit.
pub fn loop_too_big(
    point: &str,
    loop_span: Span,
    trips: Option<u64>,
    iteration_cost: u64,
    total: u64,
    target: &Target,
) -> Diagnostic {
    let limit = target.insn_limit();
    let (times, loop_cost) = match trips {
        Some(n) => (
            format!("unrolled {n} times"),
            format!("~{}", n.saturating_mul(iteration_cost)),
        ),
        None => (
            format!(
                "unrolled more than {} times",
                crate::passes::unroll::MAX_TRIPS
            ),
            "far too much".to_string(),
        ),
    };
    let total = if trips.is_some() {
        format!("about {total}")
    } else {
        "far more".to_string()
    };
    Diagnostic::error(
        E_BUDGET,
        format!("probe {point} needs {total} BPF instructions, more than the {limit} the target allows"),
    )
    .with_primary(loop_span, format!("this loop, {times}, costs {loop_cost}"))
    .with_note(format!(
        "kernel probes cannot keep loops, so stapc unrolls them; one unrolled iteration costs ~{iteration_cost} instructions"
    ))
    .with_help(budget_help(target))
}

/// The error for a constant-trip loop that would fit the target but is too
/// big for stapc to unroll (memory and compile time).
pub fn loop_too_many_copies(point: &str, loop_span: Span, trips: u64, ir_insts: u64) -> Diagnostic {
    Diagnostic::error(
        E_BUDGET,
        format!(
            "loop in kernel probe {point} runs {trips} times; unrolling it would take about {ir_insts} IR instructions, more than stapc unrolls ({})",
            crate::passes::unroll::MAX_UNROLLED_IR
        ),
    )
    .with_primary(loop_span, format!("this loop, unrolled {trips} times"))
    .with_help("shorten the loop, or split the work across several probes or events")
}
