//! The structural checks the kernel runs before simulating anything
//! (`check_subprogs`, `check_cfg`): jumps in range, the last instruction an
//! exit or jump, no unreachable instruction, no back-edge where loops are not
//! allowed. Also a static register liveness used to prune states.

use bpf::insn::*;

/// Why the program's shape is rejected, with the kernel's message parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CfgError {
    JumpOutOfRange { from: usize, to: i64 },
    LastNotExit,
    BackEdge { from: usize, to: usize },
    Unreachable { insn: usize },
}

/// Facts about the program's shape the simulation needs.
pub struct Cfg {
    /// Where to look for an equivalent state (jump targets and the
    /// fall-through of conditional jumps).
    pub prune_point: Vec<bool>,
    /// Targets of back-edges: checkpoints always go there.
    pub loop_head: Vec<bool>,
    /// Registers (bit i = ri) possibly read before written from each insn.
    pub live_in: Vec<u16>,
}

fn is_jump(i: &Insn) -> bool {
    matches!(i.class(), BPF_JMP | BPF_JMP32) && !matches!(i.code & 0xf0, BPF_CALL | BPF_EXIT)
}

/// Target of a jump at `pc` (may be out of range).
pub fn jump_target(insns: &[Insn], pc: usize) -> i64 {
    let i = insns[pc];
    let rel = if i.class() == BPF_JMP32 && i.code & 0xf0 == BPF_JA {
        i.imm as i64
    } else {
        i.off as i64
    };
    pc as i64 + rel + 1
}

/// Successors of `pc`: fall-through first, then the branch target.
pub fn successors(insns: &[Insn], pc: usize) -> (Option<i64>, Option<i64>) {
    let i = insns[pc];
    if i.is_lddw() {
        return (Some(pc as i64 + 2), None);
    }
    match i.class() {
        BPF_JMP | BPF_JMP32 => match i.code & 0xf0 {
            BPF_EXIT => (None, None),
            BPF_CALL => (Some(pc as i64 + 1), None),
            BPF_JA => (None, Some(jump_target(insns, pc))),
            _ => (Some(pc as i64 + 1), Some(jump_target(insns, pc))),
        },
        _ => (Some(pc as i64 + 1), None),
    }
}

/// `check_subprogs`: every jump lands inside the program and the last slot
/// is an exit or a jump. Runs before anything else looks at the program.
pub fn check_subprogs(insns: &[Insn]) -> Result<(), CfgError> {
    let n = insns.len();
    for (pc, i) in insns.iter().enumerate() {
        if is_jump(i) {
            let to = jump_target(insns, pc);
            if to < 0 || to >= n as i64 {
                return Err(CfgError::JumpOutOfRange { from: pc, to });
            }
        }
    }
    if let Some(last) = insns.last() {
        let ok = last.code == BPF_JMP | BPF_EXIT
            || last.code == BPF_JMP | BPF_JA
            || last.code == BPF_JMP32 | BPF_JA;
        if !ok {
            return Err(CfgError::LastNotExit);
        }
    }
    Ok(())
}

/// `check_cfg`, after `check_subprogs` and the `lddw` checks passed.
pub fn check(insns: &[Insn], loops_allowed: bool) -> Result<Cfg, CfgError> {
    let n = insns.len();
    // check_cfg: depth-first walk, fall-through before branch, as the kernel.
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        White,
        OnStack,
        Done,
    }
    let mut color = vec![Color::White; n];
    let mut prune_point = vec![false; n];
    let mut loop_head = vec![false; n];
    // (pc, next edge to try: 0 = fall-through, 1 = branch, 2 = done)
    let mut stack: Vec<(usize, u8)> = vec![(0, 0)];
    if n > 0 {
        color[0] = Color::OnStack;
    }
    while let Some(&mut (pc, ref mut edge)) = stack.last_mut() {
        let (fall, branch) = successors(insns, pc);
        let e = *edge;
        if e >= 2 {
            color[pc] = Color::Done;
            stack.pop();
            continue;
        }
        *edge += 1;
        let target = if e == 0 { fall } else { branch };
        let Some(w) = target else { continue };
        if w < 0 || w >= n as i64 {
            return Err(CfgError::JumpOutOfRange { from: pc, to: w });
        }
        let w = w as usize;
        if e == 1 || (fall.is_some() && branch.is_some()) {
            prune_point[w] = true;
        }
        match color[w] {
            Color::White => {
                color[w] = Color::OnStack;
                stack.push((w, 0));
            }
            Color::OnStack => {
                if !loops_allowed {
                    return Err(CfgError::BackEdge { from: pc, to: w });
                }
                loop_head[w] = true;
                prune_point[w] = true;
            }
            Color::Done => {}
        }
    }
    for pc in 0..n {
        if color[pc] == Color::White && !(pc > 0 && insns[pc - 1].is_lddw()) {
            return Err(CfgError::Unreachable { insn: pc });
        }
    }
    let live_in = liveness(insns);
    Ok(Cfg {
        prune_point,
        loop_head,
        live_in,
    })
}

/// Registers an instruction reads and writes, as bit sets.
fn uses_defs(i: &Insn) -> (u16, u16) {
    let bit = |r: u8| if r <= 10 { 1u16 << r } else { 0 };
    let (d, s) = (bit(i.dst), bit(i.src));
    let x = i.code & BPF_X != 0;
    match i.class() {
        BPF_ALU | BPF_ALU64 => {
            let op = i.code & 0xf0;
            if op == BPF_MOV {
                (if x { s } else { 0 }, d)
            } else if op == BPF_NEG || op == BPF_END {
                (d, d)
            } else {
                (d | if x { s } else { 0 }, d)
            }
        }
        BPF_LDX => (s, d),
        BPF_ST => (d, 0),
        BPF_STX => {
            if i.code & 0xe0 == BPF_ATOMIC {
                let r0 = if i.imm == BPF_CMPXCHG { 1 } else { 0 };
                let defs = if i.imm & BPF_FETCH != 0 {
                    if i.imm == BPF_CMPXCHG {
                        1
                    } else {
                        s
                    }
                } else {
                    0
                };
                (d | s | r0, defs)
            } else {
                (d | s, 0)
            }
        }
        BPF_LD => {
            if i.is_lddw() {
                (0, d)
            } else {
                // LD_ABS/IND read the skb in r6 (and src) and clobber r0-r5.
                (bit(6) | s, 0b11_1111)
            }
        }
        _ => match i.code & 0xf0 {
            BPF_EXIT => (1, 0),
            BPF_CALL => (0b11_1110, 0b11_1111),
            BPF_JA => (0, 0),
            _ => (d | if x { s } else { 0 }, 0),
        },
    }
}

/// Backward dataflow to a fixpoint over the (possibly cyclic) CFG.
fn liveness(insns: &[Insn]) -> Vec<u16> {
    let n = insns.len();
    let mut live = vec![0u16; n];
    let mut changed = true;
    while changed {
        changed = false;
        for pc in (0..n).rev() {
            let (fall, branch) = successors(insns, pc);
            let mut out = 0u16;
            for s in [fall, branch].into_iter().flatten() {
                if s >= 0 && (s as usize) < n {
                    out |= live[s as usize];
                }
            }
            let (u, d) = uses_defs(&insns[pc]);
            // r10 is always live: it is a pointer everything may use.
            let inn = (out & !d) | u | (1 << 10);
            if inn != live[pc] {
                live[pc] = inn;
                changed = true;
            }
        }
    }
    live
}
