//! A tiny IR interpreter for tests: runs one function over concrete 64-bit
//! values with C semantics, records its observable effects.

use crate::ir::{BinaryOp, Function, InstData, IntCC, OutArg, UnaryOp, Value, ValueDef};
use rustc_hash::FxHashMap;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Run {
    /// Printf records: (format, long args; strings as -1).
    pub printed: Vec<(u32, Vec<i64>)>,
    /// The same records with every argument as text.
    pub printed_text: Vec<Vec<String>>,
    /// Values passed to atomic adds, in order.
    pub globals_added: Vec<i64>,
    /// `Some(error)` when the function trapped.
    pub trapped: Option<u32>,
    pub exited: bool,
}

pub fn binary(op: BinaryOp, a: i64, b: i64) -> Option<i64> {
    Some(match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::SDiv => {
            if b == 0 {
                return None;
            }
            if a == i64::MIN && b == -1 {
                i64::MIN
            } else {
                a / b
            }
        }
        BinaryOp::SRem => {
            if b == 0 {
                return None;
            }
            if b == -1 {
                0
            } else {
                a % b
            }
        }
        BinaryOp::And => a & b,
        BinaryOp::Or => a | b,
        BinaryOp::Xor => a ^ b,
        BinaryOp::Shl if (0..64).contains(&b) => ((a as u64) << b) as i64,
        BinaryOp::AShr if (0..64).contains(&b) => a >> b,
        BinaryOp::LShr if (0..64).contains(&b) => ((a as u64) >> b) as i64,
        _ => return None,
    })
}

/// Run `f` with `globals` as the long globals (8 bytes each, by offset / 8).
pub fn run(f: &Function, globals: &[i64]) -> Run {
    let mut vals: FxHashMap<Value, i64> = FxHashMap::default();
    let mut slots: FxHashMap<crate::ir::Slot, String> = FxHashMap::default();
    let sget = |slots: &FxHashMap<crate::ir::Slot, String>, s: &crate::ir::Slot| {
        slots.get(s).cloned().unwrap_or_default()
    };
    let mut out = Run::default();
    let mut globals = globals.to_vec();
    let mut block = f.layout[0];
    let get = |vals: &FxHashMap<Value, i64>, v: Value| -> i64 {
        *vals.get(&v).unwrap_or_else(|| panic!("{v} unset"))
    };
    for _ in 0..1_000_000 {
        for &i in &f.blocks[block].insts {
            let r = |x: i64, vals: &mut FxHashMap<Value, i64>| {
                vals.insert(f.result(i).unwrap(), x);
            };
            match &f.insts[i] {
                InstData::Iconst { imm } => r(*imm, &mut vals),
                InstData::Unary { op, arg } => {
                    let a = get(&vals, *arg);
                    r(
                        if *op == UnaryOp::Neg {
                            a.wrapping_neg()
                        } else {
                            !a
                        },
                        &mut vals,
                    )
                }
                InstData::Binary { op, args } => {
                    match binary(*op, get(&vals, args[0]), get(&vals, args[1])) {
                        Some(x) => r(x, &mut vals),
                        None => {
                            // Undefined in the IR (lowering guards it): model as a trap.
                            out.trapped = Some(u32::MAX);
                            return out;
                        }
                    }
                }
                InstData::Icmp { cond, args } => {
                    let (a, b) = (get(&vals, args[0]), get(&vals, args[1]));
                    let (ua, ub) = (a as u64, b as u64);
                    let t = match cond {
                        IntCC::Eq => a == b,
                        IntCC::Ne => a != b,
                        IntCC::Slt => a < b,
                        IntCC::Sle => a <= b,
                        IntCC::Sgt => a > b,
                        IntCC::Sge => a >= b,
                        IntCC::Ult => ua < ub,
                        IntCC::Ule => ua <= ub,
                        IntCC::Ugt => ua > ub,
                        IntCC::Uge => ua >= ub,
                    };
                    r(t as i64, &mut vals)
                }
                InstData::LoadGlobal { offset } => r(
                    globals.get(*offset as usize / 8).copied().unwrap_or(0),
                    &mut vals,
                ),
                InstData::StoreGlobal { offset, arg } => {
                    let o = *offset as usize / 8;
                    if globals.len() <= o {
                        globals.resize(o + 1, 0);
                    }
                    globals[o] = get(&vals, *arg);
                }
                InstData::AtomicAddGlobal { arg, .. } => out.globals_added.push(get(&vals, *arg)),
                InstData::Context { .. } => r(1000, &mut vals),
                InstData::StrCompare { args } => {
                    let (a, b) = (sget(&slots, &args[0]), sget(&slots, &args[1]));
                    r(a.cmp(&b) as i64, &mut vals)
                }
                InstData::StrCompareConst { arg, value } => {
                    let a = sget(&slots, arg);
                    r(a.cmp(value) as i64, &mut vals)
                }
                InstData::StrConst { dst, value } => {
                    slots.insert(*dst, value.clone());
                }
                InstData::StrCopy { dst, src } => {
                    let v = sget(&slots, src);
                    slots.insert(*dst, v);
                }
                InstData::StrConcat { dst, args } => {
                    let v = sget(&slots, &args[0]) + &sget(&slots, &args[1]);
                    slots.insert(*dst, v);
                }
                InstData::StrContext { dst, .. } => {
                    slots.insert(*dst, "stapc-sim".into());
                }
                InstData::Printf { format, args } => {
                    let a = args
                        .iter()
                        .map(|a| match a {
                            OutArg::Long(v) => get(&vals, *v),
                            OutArg::Str(_) => -1,
                        })
                        .collect();
                    out.printed.push((*format, a));
                    let t = args
                        .iter()
                        .map(|a| match a {
                            OutArg::Long(v) => get(&vals, *v).to_string(),
                            OutArg::Str(s) => sget(&slots, s),
                        })
                        .collect();
                    out.printed_text.push(t);
                }
                InstData::Exit => out.exited = true,
                InstData::Jump { dest, args } => {
                    let a: Vec<i64> = args.iter().map(|v| get(&vals, *v)).collect();
                    for (p, x) in f.blocks[*dest].params.iter().zip(a) {
                        vals.insert(*p, x);
                    }
                    block = *dest;
                    break;
                }
                InstData::Brif {
                    cond,
                    then_dest,
                    then_args,
                    else_dest,
                    else_args,
                } => {
                    let (d, args) = if get(&vals, *cond) != 0 {
                        (then_dest, then_args)
                    } else {
                        (else_dest, else_args)
                    };
                    let a: Vec<i64> = args.iter().map(|v| get(&vals, *v)).collect();
                    for (p, x) in f.blocks[*d].params.iter().zip(a) {
                        vals.insert(*p, x);
                    }
                    block = *d;
                    break;
                }
                InstData::Return => return out,
                InstData::Trap { error } | InstData::TrapMsg { error, .. } => {
                    out.trapped = Some(*error);
                    return out;
                }
                _ => {}
            }
        }
        let _ = ValueDef::Param;
    }
    panic!("interpreter step limit")
}
