//! Constant folding with C semantics on 64-bit two's complement: wrapping
//! arithmetic, signed division truncating toward zero, `i64::MIN / -1`
//! wrapping. A division by zero or an out-of-range shift is never folded:
//! lowering guards those with a trap, and the guarded operation stays.

use crate::cfg::Cfg;
use crate::ir::{BinaryOp, Function, InstData, IntCC, UnaryOp};

/// The value of a binary operation, or `None` where it has none (division by
/// zero, shift amount outside 0..=63).
pub fn eval_binary(op: BinaryOp, a: i64, b: i64) -> Option<i64> {
    Some(match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::SDiv => {
            if b == 0 {
                return None;
            }
            a.wrapping_div(b)
        }
        BinaryOp::SRem => {
            if b == 0 {
                return None;
            }
            a.wrapping_rem(b)
        }
        BinaryOp::And => a & b,
        BinaryOp::Or => a | b,
        BinaryOp::Xor => a ^ b,
        BinaryOp::Shl | BinaryOp::AShr | BinaryOp::LShr => {
            if !(0..=63).contains(&b) {
                return None;
            }
            match op {
                BinaryOp::Shl => a << b,
                BinaryOp::AShr => a >> b,
                _ => ((a as u64) >> b) as i64,
            }
        }
    })
}

pub fn eval_unary(op: UnaryOp, a: i64) -> i64 {
    match op {
        UnaryOp::Neg => a.wrapping_neg(),
        UnaryOp::BitNot => !a,
    }
}

pub fn fold_constants(func: &mut Function) -> bool {
    let cfg = Cfg::compute(func);
    let mut changed = false;
    // Reverse postorder visits definitions before their uses, so chains fold
    // in one sweep.
    for &b in cfg.rpo() {
        for i in func.blocks[b].insts.clone() {
            let c = |v| func.const_value(v);
            let folded = match &func.insts[i] {
                InstData::Unary { op, arg } => c(*arg).map(|a| eval_unary(*op, a)),
                InstData::Binary { op, args } => match (c(args[0]), c(args[1])) {
                    (Some(a), Some(b)) => eval_binary(*op, a, b),
                    _ => None,
                },
                InstData::Icmp { cond, args } => {
                    if args[0] == args[1] {
                        Some(matches!(
                            cond,
                            IntCC::Eq | IntCC::Sle | IntCC::Sge | IntCC::Ule | IntCC::Uge
                        ) as i64)
                    } else {
                        match (c(args[0]), c(args[1])) {
                            (Some(a), Some(b)) => Some(cond.eval(a, b) as i64),
                            _ => None,
                        }
                    }
                }
                _ => None,
            };
            if let Some(imm) = folded {
                func.insts[i] = InstData::Iconst { imm };
                changed = true;
            }
        }
    }
    changed
}
