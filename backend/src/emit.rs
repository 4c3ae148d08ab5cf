//! Emission: allocated VCode → BPF instruction slots. Resolves branch
//! offsets, drops jumps to the next block (inverting a conditional jump
//! when its taken side falls through), drops self-moves, encodes `lddw` as
//! two slots, and builds the line table from the instructions' spans.

use stapc_bpf::insn::*;
use stapc_bpf::{Insn, LineEntry};
use stapc_frontend::{SourceMap, Span};

use crate::error::BackendError;
use crate::regalloc::{spill_offset, Allocation};
use crate::vcode::{Reg, Src, VBlock, VInst};

/// The jump op taken exactly when `op` is not (no inverse for JSET).
pub fn invert(op: u8) -> Option<u8> {
    Some(match op {
        BPF_JEQ => BPF_JNE,
        BPF_JNE => BPF_JEQ,
        BPF_JGT => BPF_JLE,
        BPF_JLE => BPF_JGT,
        BPF_JGE => BPF_JLT,
        BPF_JLT => BPF_JGE,
        BPF_JSGT => BPF_JSLE,
        BPF_JSLE => BPF_JSGT,
        BPF_JSGE => BPF_JSLT,
        BPF_JSLT => BPF_JSGE,
        _ => return None,
    })
}

/// One emitted piece before offsets are known.
enum Piece {
    Insn(Insn),
    /// A jump to a block (`op` = BPF_JA for unconditional).
    Jump {
        op: u8,
        lhs: u8,
        rhs: Src,
        target: VBlock,
    },
}

/// Remove jumps whose target is the next instruction (the blocks between
/// emitted nothing: their moves were elided), e.g. `goto +0`; a chain of
/// them goes too. Block starts move to the next piece kept.
fn drop_jumps_to_next(
    pieces: Vec<(Piece, Option<Span>)>,
    block_start: Vec<usize>,
) -> (Vec<(Piece, Option<Span>)>, Vec<usize>) {
    let n = pieces.len();
    // next_kept[i]: the first kept piece at or after i (n: the end).
    let mut next_kept = vec![n; n + 1];
    for k in (0..n).rev() {
        let noop = match &pieces[k].0 {
            Piece::Jump { target, .. } => {
                let t = block_start
                    .get(target.as_u32() as usize)
                    .copied()
                    .unwrap_or(usize::MAX);
                t > k && t < n && next_kept[k + 1] == next_kept[t]
            }
            Piece::Insn(_) => false,
        };
        next_kept[k] = if noop { next_kept[k + 1] } else { k };
    }
    if (0..n).all(|k| next_kept[k] == k) {
        return (pieces, block_start);
    }
    // new_index[i]: how many kept pieces come before old piece i.
    let mut new_index = vec![0; n + 1];
    for i in 0..n {
        new_index[i + 1] = new_index[i] + usize::from(next_kept[i] == i);
    }
    let starts = block_start
        .into_iter()
        .map(|s| if s <= n { new_index[s] } else { s })
        .collect();
    let kept = pieces
        .into_iter()
        .enumerate()
        .filter(|(i, _)| next_kept[*i] == *i)
        .map(|(_, p)| p)
        .collect();
    (kept, starts)
}

fn phys(a: &Allocation, r: Reg) -> Result<u8, BackendError> {
    match a.reg(r) {
        Some(p) if p <= 10 => Ok(p),
        _ => Err(BackendError::Regalloc {
            func: a.vcode.name.clone(),
            what: format!("{r} has no register"),
        }),
    }
}

fn line_col(sm: &SourceMap, span: Span) -> Option<(u32, u32)> {
    let f = sm.files().get(span.file.0 as usize)?;
    if span.start as usize > f.text.len() {
        return None;
    }
    Some(f.line_col(span.start))
}

/// Encode `a` as BPF slots plus its line table; `allow_gotol` (ISA v4)
/// lets jumps reach beyond 16-bit offsets.
pub fn emit(
    a: &Allocation,
    sm: &SourceMap,
    allow_gotol: bool,
) -> Result<(Vec<Insn>, Vec<LineEntry>), BackendError> {
    let vc = &a.vcode;
    let func = vc.name.clone();
    let mut pieces: Vec<(Piece, Option<Span>)> = Vec::new();
    let mut block_start: Vec<usize> = vec![usize::MAX; vc.blocks.len()];
    // First pass: pieces per block (jump sizes are known from the layout).
    for (k, b) in vc.order.iter().enumerate() {
        block_start[b.as_u32() as usize] = pieces.len();
        let next = vc.order.get(k + 1).copied();
        let data = &vc.blocks[*b];
        for (inst, loc) in data.insts.iter().zip(&data.locs) {
            let p = |r: Reg| phys(a, r);
            let mut push = |pc: Piece| pieces.push((pc, *loc));
            match inst {
                VInst::Alu {
                    op,
                    wide,
                    signed,
                    dst,
                    src,
                } => {
                    let d = p(*dst)?;
                    let class = if *wide { BPF_ALU64 } else { BPF_ALU };
                    let off = i16::from(*signed);
                    match src {
                        Src::Reg(s) => {
                            let s = p(*s)?;
                            if *op == BPF_MOV && *wide && s == d {
                                continue;
                            }
                            push(Piece::Insn(Insn::new(class | op | BPF_X, d, s, off, 0)));
                        }
                        Src::Imm(i) => {
                            push(Piece::Insn(Insn::new(class | op | BPF_K, d, 0, off, *i)))
                        }
                    }
                }
                VInst::Neg { dst } => push(Piece::Insn(Insn::alu64_imm(BPF_NEG, p(*dst)?, 0))),
                VInst::Bswap64 { dst } => {
                    // BPF_TO_BE shares the BPF_X bit.
                    push(Piece::Insn(Insn::new(
                        BPF_ALU | BPF_END | BPF_X,
                        p(*dst)?,
                        0,
                        0,
                        64,
                    )))
                }
                VInst::LoadImm64 { dst, imm } => {
                    for i in Insn::lddw(p(*dst)?, *imm) {
                        push(Piece::Insn(i));
                    }
                }
                VInst::LoadMap { dst, map } => {
                    for i in Insn::ld_map(p(*dst)?, *map) {
                        push(Piece::Insn(i));
                    }
                }
                VInst::Load {
                    size,
                    dst,
                    base,
                    off,
                } => push(Piece::Insn(Insn::ldx(*size, p(*dst)?, p(*base)?, *off))),
                VInst::Store {
                    size,
                    base,
                    off,
                    src,
                } => match src {
                    Src::Reg(s) => push(Piece::Insn(Insn::stx(*size, p(*base)?, p(*s)?, *off))),
                    Src::Imm(i) => push(Piece::Insn(Insn::st(*size, p(*base)?, *off, *i))),
                },
                VInst::AtomicAdd { base, off, src } => push(Piece::Insn(Insn::atomic(
                    BPF_DW,
                    p(*base)?,
                    p(*src)?,
                    *off,
                    i32::from(BPF_ADD),
                ))),
                // ---- functions/strings ----
                VInst::Call { helper, .. } if *helper <= crate::isel::LOCAL_CALL_BASE => {
                    push(Piece::Insn(Insn::new(
                        BPF_JMP | BPF_CALL,
                        0,
                        BPF_PSEUDO_CALL,
                        0,
                        crate::isel::LOCAL_CALL_BASE - *helper,
                    )))
                }
                VInst::Call { helper, .. } => push(Piece::Insn(Insn::call(*helper))),
                VInst::Spill { slot, src } => push(Piece::Insn(Insn::stx(
                    BPF_DW,
                    R10,
                    p(*src)?,
                    spill_offset(*slot),
                ))),
                VInst::Reload { dst, slot } => push(Piece::Insn(Insn::ldx(
                    BPF_DW,
                    p(*dst)?,
                    R10,
                    spill_offset(*slot),
                ))),
                VInst::Jump { dest } => {
                    if Some(*dest) != next {
                        push(Piece::Jump {
                            op: BPF_JA,
                            lhs: 0,
                            rhs: Src::Imm(0),
                            target: *dest,
                        });
                    }
                }
                VInst::Branch {
                    op,
                    lhs,
                    rhs,
                    taken,
                    not_taken,
                } => {
                    let l = p(*lhs)?;
                    let r = match rhs {
                        Src::Reg(r) => Src::Reg(Reg::P(p(*r)?)),
                        i => *i,
                    };
                    if taken == not_taken {
                        if Some(*taken) != next {
                            push(Piece::Jump {
                                op: BPF_JA,
                                lhs: 0,
                                rhs: Src::Imm(0),
                                target: *taken,
                            });
                        }
                    } else if Some(*not_taken) == next {
                        push(Piece::Jump {
                            op: *op,
                            lhs: l,
                            rhs: r,
                            target: *taken,
                        });
                    } else if let (true, Some(inv)) = (Some(*taken) == next, invert(*op)) {
                        push(Piece::Jump {
                            op: inv,
                            lhs: l,
                            rhs: r,
                            target: *not_taken,
                        });
                    } else {
                        push(Piece::Jump {
                            op: *op,
                            lhs: l,
                            rhs: r,
                            target: *taken,
                        });
                        push(Piece::Jump {
                            op: BPF_JA,
                            lhs: 0,
                            rhs: Src::Imm(0),
                            target: *not_taken,
                        });
                    }
                }
                VInst::Exit => push(Piece::Insn(Insn::exit())),
            }
        }
    }
    let (pieces, block_start) = drop_jumps_to_next(pieces, block_start);
    // Branch relaxation: a jump is short (16-bit offset) until it is found
    // out of range; then, on ISA v4, it becomes `gotol` (a conditional one:
    // the inverted condition skipping over a `gotol`). Jumps only grow, so
    // this reaches a fixpoint.
    let total = pieces.len();
    let mut long = vec![false; total];
    let size = |p: &Piece, long: bool| -> usize {
        match p {
            Piece::Jump { op, .. } if long && *op != BPF_JA => 2,
            _ => 1,
        }
    };
    let (addr, end_addr) = loop {
        let mut addr = Vec::with_capacity(total + 1);
        let mut a = 0usize;
        for (k, (p, _)) in pieces.iter().enumerate() {
            addr.push(a);
            a += size(p, long[k]);
        }
        addr.push(a);
        let mut changed = false;
        for (k, (p, _)) in pieces.iter().enumerate() {
            if let Piece::Jump { target, .. } = p {
                let t = block_start[target.as_u32() as usize];
                if t >= total {
                    return Err(BackendError::BranchOutOfRange {
                        func,
                        insn: addr[k],
                    });
                }
                let off = addr[t] as i64 - addr[k] as i64 - 1;
                if !long[k] && i16::try_from(off).is_err() {
                    if !allow_gotol {
                        return Err(BackendError::BranchOutOfRange {
                            func,
                            insn: addr[k],
                        });
                    }
                    long[k] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break (addr, a);
        }
    };
    let mut insns = Vec::with_capacity(end_addr);
    let mut lines: Vec<LineEntry> = Vec::new();
    let mut last: Option<(u32, u32)> = None;
    for (k, (piece, loc)) in pieces.into_iter().enumerate() {
        let pc = addr[k];
        if let Some(lc) = loc.and_then(|s| line_col(sm, s)) {
            if last != Some(lc) {
                lines.push(LineEntry {
                    insn: pc as u32,
                    line: lc.0,
                    col: lc.1,
                });
                last = Some(lc);
            }
        }
        match piece {
            Piece::Insn(i) => insns.push(i),
            Piece::Jump {
                op,
                lhs,
                rhs,
                target,
            } => {
                // An empty block (all moves elided) starts where the next one does.
                let t = addr[block_start[target.as_u32() as usize]] as i64;
                let out_of_range = || BackendError::BranchOutOfRange {
                    func: func.clone(),
                    insn: pc,
                };
                let cond = |op: u8, off: i16| match rhs {
                    Src::Reg(Reg::P(r)) => Ok(Insn::jmp_reg(op, lhs, r, off)),
                    Src::Imm(i) => Ok(Insn::jmp_imm(op, lhs, i, off)),
                    Src::Reg(Reg::V(v)) => Err(BackendError::Regalloc {
                        func: func.clone(),
                        what: format!("{v} in a jump"),
                    }),
                };
                let gotol = |from: usize| {
                    i32::try_from(t - from as i64 - 1)
                        .map(|off| Insn::new(BPF_JMP32 | BPF_JA, 0, 0, 0, off))
                        .map_err(|_| out_of_range())
                };
                match (long[k], op) {
                    (false, _) => {
                        let off = i16::try_from(t - pc as i64 - 1).map_err(|_| out_of_range())?;
                        insns.push(if op == BPF_JA {
                            Insn::ja(off)
                        } else {
                            cond(op, off)?
                        });
                    }
                    (true, BPF_JA) => insns.push(gotol(pc)?),
                    (true, _) => {
                        let inv = invert(op).ok_or_else(out_of_range)?;
                        insns.push(cond(inv, 1)?);
                        insns.push(gotol(pc + 1)?);
                    }
                }
            }
        }
    }
    Ok((insns, lines))
}

/// Indexes of instructions no path from instruction 0 reaches (the kernel
/// rejects programs with any), plus jumps leaving the program.
pub fn unreachable_insns(insns: &[Insn]) -> Result<Vec<usize>, usize> {
    let n = insns.len();
    let mut seen = vec![false; n];
    let mut stack = if n > 0 { vec![0usize] } else { vec![] };
    while let Some(pc) = stack.pop() {
        if pc >= n {
            return Err(pc);
        }
        if std::mem::replace(&mut seen[pc], true) {
            continue;
        }
        let i = insns[pc];
        if i.is_lddw() {
            if pc + 1 < n {
                seen[pc + 1] = true;
            }
            stack.push(pc + 2);
            continue;
        }
        let class = i.class();
        if class == BPF_JMP || class == BPF_JMP32 {
            let op = i.code & 0xf0;
            match op {
                BPF_EXIT => continue,
                BPF_CALL => stack.push(pc + 1),
                // `gotol` (the 32-bit class) carries its offset in imm.
                BPF_JA if class == BPF_JMP32 => {
                    stack.push((pc as i64 + 1 + i64::from(i.imm)) as usize)
                }
                BPF_JA => stack.push((pc as i64 + 1 + i64::from(i.off)) as usize),
                _ => {
                    stack.push(pc + 1);
                    let t = pc as i64 + 1 + i64::from(i.off);
                    if t < 0 {
                        return Err(pc);
                    }
                    stack.push(t as usize);
                }
            }
        } else {
            stack.push(pc + 1);
        }
    }
    Ok((0..n).filter(|&i| !seen[i]).collect())
}
