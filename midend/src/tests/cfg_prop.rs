//! Property: the CFG view's dominators (Cooper–Harvey–Kennedy with O(1)
//! dominance queries) agree with petgraph's on random CFGs, irreducible
//! ones included; back-edges exist exactly when the reachable graph has a
//! cycle.

use crate::cfg::Cfg;
use crate::ir::{Block, Function, InstData};
use petgraph::algo::dominators::simple_fast;
use proptest::prelude::*;
use stapc_frontend::Span;

/// Terminator of block i: 0 = return, 1 = jump, 2 = brif (targets mod n, never the entry).
fn build(shape: &[(u8, usize, usize)]) -> Function {
    let s = Span::default();
    let mut f = Function::new("cfg");
    let blocks: Vec<Block> = shape.iter().map(|_| f.create_block()).collect();
    let n = blocks.len();
    let target = |t: usize| blocks[1 + t % (n - 1)];
    for (i, &(kind, a, b)) in shape.iter().enumerate() {
        let data = match kind % 3 {
            0 => InstData::Return,
            1 => InstData::Jump {
                dest: target(a),
                args: vec![],
            },
            _ => {
                let c = f
                    .append(blocks[i], InstData::Iconst { imm: 1 }, s)
                    .unwrap_or_else(|| unreachable!());
                InstData::Brif {
                    cond: c,
                    then_dest: target(a),
                    then_args: vec![],
                    else_dest: target(b),
                    else_args: vec![],
                }
            }
        };
        f.append(blocks[i], data, s);
    }
    f
}

proptest! {
    #[test]
    fn dominators_match_petgraph(shape in prop::collection::vec((0u8..3, any::<usize>(), any::<usize>()), 2..24)) {
        let f = build(&shape);
        prop_assert!(crate::verify_function(&f).is_ok());
        let cfg = Cfg::compute(&f);
        let g = cfg.graph();
        let entry = f.layout[0];
        let doms = simple_fast(&g, entry);
        for &b in cfg.rpo() {
            let theirs = doms.immediate_dominator(b).filter(|&d| d != b);
            prop_assert_eq!(cfg.idom(b), theirs, "idom of {}", b);
            let all: Vec<Block> = doms.dominators(b).map(|it| it.collect()).unwrap_or_default();
            for &a in cfg.rpo() {
                prop_assert_eq!(cfg.dominates(a, b), all.contains(&a), "{} dom {}", a, b);
            }
        }
        prop_assert_eq!(!cfg.back_edges().is_empty(), petgraph::algo::is_cyclic_directed(&g));
    }
}
