//! The control-flow graph of a `Function`, as a view recomputed from the
//! terminators (never stored in the IR): successors, predecessors, reverse
//! postorder from the entry, dominators and the back-edges that make loops.
//!
//! Dominators are computed on first use (most passes need none) with
//! Cooper, Harvey and Kennedy's iterative algorithm over reverse-postorder
//! indexes, and dominance queries are O(1) through pre/post numbers of the
//! dominator tree: unrolled functions have chains of thousands of blocks.
//! `graph()` gives the same CFG as a petgraph graph for petgraph's
//! algorithms (the tests check the dominators against petgraph's).

use crate::ir::{Block, Function, Inst};
use cranelift_entity::SecondaryMap;
use petgraph::graphmap::DiGraphMap;
use std::cell::OnceCell;

/// One edge: from `from`'s terminator `inst`, outgoing edge number `edge`
/// (0 = jump / then, 1 = else), to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: Block,
    pub inst: Inst,
    pub edge: usize,
    pub to: Block,
}

/// The dominator tree, by reverse-postorder index.
struct DomTree {
    /// Immediate dominator of each reachable block (the entry: itself).
    idom: Vec<u32>,
    /// Pre- and post-order numbers in the dominator tree.
    pre: Vec<u32>,
    post: Vec<u32>,
}

pub struct Cfg {
    succs: SecondaryMap<Block, Vec<Block>>,
    preds: SecondaryMap<Block, Vec<Edge>>,
    rpo: Vec<Block>,
    rpo_index: SecondaryMap<Block, u32>,
    doms: OnceCell<DomTree>,
}

const NOT_REACHED: u32 = u32::MAX;

impl Cfg {
    /// Compute the CFG of the blocks in `func.layout`. Branches to blocks that
    /// do not exist are ignored (the verifier reports them).
    pub fn compute(func: &Function) -> Cfg {
        let mut succs: SecondaryMap<Block, Vec<Block>> = SecondaryMap::new();
        let mut preds: SecondaryMap<Block, Vec<Edge>> = SecondaryMap::new();
        for &b in &func.layout {
            let Some(bd) = func.blocks.get(b) else {
                continue;
            };
            let Some(&last) = bd.insts.last() else {
                continue;
            };
            let Some(data) = func.insts.get(last) else {
                continue;
            };
            for (edge, to, _) in data.edges() {
                if func.blocks.get(to).is_none() {
                    continue;
                }
                if !succs[b].contains(&to) {
                    succs[b].push(to);
                }
                preds[to].push(Edge {
                    from: b,
                    inst: last,
                    edge,
                    to,
                });
            }
        }
        // Reverse postorder by an explicit-stack DFS (deep CFGs after unrolling).
        let mut rpo_index: SecondaryMap<Block, u32> = SecondaryMap::with_default(NOT_REACHED);
        let mut post = Vec::new();
        if let Some(entry) = func.entry() {
            let mut visited: SecondaryMap<Block, bool> = SecondaryMap::new();
            let mut stack: Vec<(Block, usize)> = vec![(entry, 0)];
            visited[entry] = true;
            // Successors are visited last-first, so that reverse postorder
            // lists a branch's `then` side before its `else` side (a loop's
            // body before its exit): the order a reader, and fallthrough
            // layout, expect.
            while let Some(top) = stack.last_mut() {
                let (b, i) = *top;
                let n = succs[b].len();
                if i < n {
                    let s = succs[b][n - 1 - i];
                    top.1 += 1;
                    if !visited[s] {
                        visited[s] = true;
                        stack.push((s, 0));
                    }
                } else {
                    post.push(b);
                    stack.pop();
                }
            }
        }
        post.reverse();
        for (i, &b) in post.iter().enumerate() {
            rpo_index[b] = i as u32;
        }
        Cfg {
            succs,
            preds,
            rpo: post,
            rpo_index,
            doms: OnceCell::new(),
        }
    }

    /// The CFG as a petgraph graph (reachable blocks and their edges).
    pub fn graph(&self) -> DiGraphMap<Block, (), rustc_hash::FxBuildHasher> {
        let mut g = DiGraphMap::with_capacity_and_hasher(self.rpo.len(), 0, Default::default());
        for &b in &self.rpo {
            g.add_node(b);
        }
        for &b in &self.rpo {
            for &s in &self.succs[b] {
                g.add_edge(b, s, ());
            }
        }
        g
    }

    /// Distinct successors, in terminator order.
    pub fn succs(&self, b: Block) -> &[Block] {
        &self.succs[b]
    }

    /// Incoming edges, in layout order of their source blocks.
    pub fn preds(&self, b: Block) -> &[Edge] {
        &self.preds[b]
    }

    /// Blocks reachable from the entry, in reverse postorder.
    pub fn rpo(&self) -> &[Block] {
        &self.rpo
    }

    pub fn is_reachable(&self, b: Block) -> bool {
        self.rpo_index[b] != NOT_REACHED
    }

    /// Position of a reachable block in reverse postorder.
    pub fn rpo_position(&self, b: Block) -> Option<usize> {
        let i = self.rpo_index[b];
        (i != NOT_REACHED).then_some(i as usize)
    }

    fn dom_tree(&self) -> &DomTree {
        self.doms.get_or_init(|| self.compute_doms())
    }

    fn compute_doms(&self) -> DomTree {
        let n = self.rpo.len();
        const UNDEF: u32 = u32::MAX;
        let mut idom = vec![UNDEF; n];
        if n == 0 {
            return DomTree {
                idom,
                pre: Vec::new(),
                post: Vec::new(),
            };
        }
        idom[0] = 0;
        let intersect = |idom: &[u32], mut a: u32, mut b: u32| {
            while a != b {
                while a > b {
                    a = idom[a as usize];
                }
                while b > a {
                    b = idom[b as usize];
                }
            }
            a
        };
        let mut changed = true;
        while changed {
            changed = false;
            for i in 1..n {
                let mut new = UNDEF;
                for e in &self.preds[self.rpo[i]] {
                    let p = self.rpo_index[e.from];
                    if p == NOT_REACHED || idom[p as usize] == UNDEF {
                        continue;
                    }
                    new = if new == UNDEF {
                        p
                    } else {
                        intersect(&idom, p, new)
                    };
                }
                if new != UNDEF && idom[i] != new {
                    idom[i] = new;
                    changed = true;
                }
            }
        }
        // Number the dominator tree (children in RPO order) without recursion.
        let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
        for i in 1..n {
            if idom[i] != UNDEF {
                children[idom[i] as usize].push(i as u32);
            }
        }
        let (mut pre, mut post) = (vec![0; n], vec![0; n]);
        let (mut pc, mut qc) = (0u32, 0u32);
        let mut stack: Vec<(u32, usize)> = vec![(0, 0)];
        pre[0] = pc;
        pc += 1;
        while let Some(top) = stack.last_mut() {
            let (node, k) = *top;
            if let Some(&c) = children[node as usize].get(k) {
                top.1 += 1;
                pre[c as usize] = pc;
                pc += 1;
                stack.push((c, 0));
            } else {
                post[node as usize] = qc;
                qc += 1;
                stack.pop();
            }
        }
        DomTree { idom, pre, post }
    }

    /// The immediate dominator of a reachable block (`None` for the entry
    /// and unreachable blocks).
    pub fn idom(&self, b: Block) -> Option<Block> {
        let i = self.rpo_position(b)?;
        if i == 0 {
            return None;
        }
        let d = *self.dom_tree().idom.get(i)?;
        self.rpo.get(d as usize).copied()
    }

    /// Whether `a` dominates `b` (both reachable; every block dominates itself).
    pub fn dominates(&self, a: Block, b: Block) -> bool {
        let (Some(ia), Some(ib)) = (self.rpo_position(a), self.rpo_position(b)) else {
            return false;
        };
        let t = self.dom_tree();
        t.pre[ia] <= t.pre[ib] && t.post[ib] <= t.post[ia]
    }

    /// Edges that go back to a block at or before their source in reverse
    /// postorder: every cycle of the reachable graph contains one. In the
    /// reducible CFGs lowering builds, the target dominates the source (a
    /// natural loop's latch → header).
    pub fn back_edges(&self) -> Vec<Edge> {
        let mut out = Vec::new();
        for &b in &self.rpo {
            for e in &self.preds[b] {
                if self.is_reachable(e.from) && self.rpo_index[e.from] >= self.rpo_index[b] {
                    out.push(*e);
                }
            }
        }
        out
    }

    /// The blocks of the natural loop of `header`: the header and every block
    /// that reaches one of its back-edge sources without passing the header.
    /// Sorted by reverse postorder (header first).
    pub fn natural_loop(&self, header: Block) -> Vec<Block> {
        let mut in_loop: SecondaryMap<Block, bool> = SecondaryMap::new();
        in_loop[header] = true;
        let mut body = vec![header];
        let mut work: Vec<Block> = self
            .preds(header)
            .iter()
            .filter(|e| {
                self.is_reachable(e.from) && self.rpo_index[e.from] >= self.rpo_index[header]
            })
            .map(|e| e.from)
            .collect();
        while let Some(b) = work.pop() {
            if in_loop[b] || !self.is_reachable(b) {
                continue;
            }
            in_loop[b] = true;
            body.push(b);
            for e in &self.preds[b] {
                work.push(e.from);
            }
        }
        body.sort_by_key(|b| self.rpo_index[*b]);
        body
    }
}
