//! Property: constant folding (and the whole -O2 scalar pipeline) never
//! changes what random straight-line arithmetic computes, with C semantics
//! (wrapping, truncating signed division, traps left in place).

use super::interp::run;
use crate::ir::{BinaryOp, Function, InstData, IntCC, OutArg, UnaryOp, Value};
use proptest::prelude::*;
use stapc_frontend::Span;

#[derive(Clone, Debug)]
enum Op {
    Const(i64),
    Load(u32),
    Unary(UnaryOp, usize),
    Binary(BinaryOp, usize, usize),
    Icmp(IntCC, usize, usize),
}

fn constant() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        -70i64..70,
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        Just(-1),
    ]
}

fn binop() -> impl Strategy<Value = BinaryOp> {
    use BinaryOp::*;
    prop::sample::select(vec![
        Add, Sub, Mul, SDiv, SRem, And, Or, Xor, Shl, AShr, LShr,
    ])
}

fn cc() -> impl Strategy<Value = IntCC> {
    use IntCC::*;
    prop::sample::select(vec![Eq, Ne, Slt, Sle, Sgt, Sge, Ult, Ule, Ugt, Uge])
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => constant().prop_map(Op::Const),
        1 => (0u32..2).prop_map(|g| Op::Load(g * 8)),
        1 => (prop::sample::select(vec![UnaryOp::Neg, UnaryOp::BitNot]), any::<usize>()).prop_map(|(o, a)| Op::Unary(o, a)),
        4 => (binop(), any::<usize>(), any::<usize>()).prop_map(|(o, a, b)| Op::Binary(o, a, b)),
        1 => (cc(), any::<usize>(), any::<usize>()).prop_map(|(c, a, b)| Op::Icmp(c, a, b)),
    ]
}

fn build(ops: &[Op]) -> Function {
    let s = Span::default();
    let mut f = Function::new("prop");
    let b = f.create_block();
    let mut vals: Vec<Value> = vec![f
        .append(b, InstData::Iconst { imm: 1 }, s)
        .unwrap_or_else(|| unreachable!())];
    for op in ops {
        let pick = |i: usize| vals[i % vals.len()];
        let data = match op {
            Op::Const(c) => InstData::Iconst { imm: *c },
            Op::Load(o) => InstData::LoadGlobal { offset: *o },
            Op::Unary(o, a) => InstData::Unary {
                op: *o,
                arg: pick(*a),
            },
            Op::Binary(o, a, c) => InstData::Binary {
                op: *o,
                args: [pick(*a), pick(*c)],
            },
            Op::Icmp(c, a, d) => InstData::Icmp {
                cond: *c,
                args: [pick(*a), pick(*d)],
            },
        };
        if let Some(v) = f.append(b, data, s) {
            vals.push(v);
        }
    }
    let args = vals.iter().map(|v| OutArg::Long(*v)).collect();
    f.append(b, InstData::Printf { format: 0, args }, s);
    f.append(b, InstData::Return, s);
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn folding_preserves_meaning(ops in prop::collection::vec(op(), 1..40), g0 in constant(), g1 in constant()) {
        let mut f = build(&ops);
        let globals = [g0, g1];
        let before = run(&f, &globals);
        crate::passes::fold_constants(&mut f);
        prop_assert!(crate::verify_function(&f).is_ok());
        let after = run(&f, &globals);
        prop_assert_eq!(&before, &after);
        crate::passes::simplify(&mut f);
        prop_assert!(crate::verify_function(&f).is_ok());
        prop_assert_eq!(&before, &run(&f, &globals));
    }

    #[test]
    fn folding_leaves_only_unfoldable_constant_operations(ops in prop::collection::vec(op(), 1..40)) {
        let mut f = build(&ops);
        crate::passes::fold_constants(&mut f);
        for &b in &f.layout {
            for &i in &f.blocks[b].insts {
                if let InstData::Binary { op, args } = f.insts[i] {
                    if let (Some(a), Some(c)) = (f.const_value(args[0]), f.const_value(args[1])) {
                        prop_assert_eq!(crate::passes::constfold::eval_binary(op, a, c), None);
                    }
                }
            }
        }
    }
}
