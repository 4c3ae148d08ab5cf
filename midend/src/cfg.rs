//! The control-flow graph of a `Function`, as a view recomputed from the
//! terminators (never stored in the IR): successors, predecessors, reverse
//! postorder from the entry, dominators (petgraph's Cooper–Harvey–Kennedy)
//! and the back-edges that make loops.

use crate::ir::{Block, Function, Inst};
use cranelift_entity::SecondaryMap;
use petgraph::algo::dominators::{simple_fast, Dominators};
use petgraph::graphmap::DiGraphMap;

/// One edge: from `from`'s terminator `inst`, outgoing edge number `edge`
/// (0 = jump / then, 1 = else), to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: Block,
    pub inst: Inst,
    pub edge: usize,
    pub to: Block,
}

pub struct Cfg {
    succs: SecondaryMap<Block, Vec<Block>>,
    preds: SecondaryMap<Block, Vec<Edge>>,
    rpo: Vec<Block>,
    rpo_index: SecondaryMap<Block, u32>,
    doms: Option<Dominators<Block>>,
}

const NOT_REACHED: u32 = u32::MAX;

impl Cfg {
    /// Compute the CFG of the blocks in `func.layout`. Branches to blocks that
    /// do not exist are ignored (the verifier reports them).
    pub fn compute(func: &Function) -> Cfg {
        let mut succs: SecondaryMap<Block, Vec<Block>> = SecondaryMap::new();
        let mut preds: SecondaryMap<Block, Vec<Edge>> = SecondaryMap::new();
        let mut graph: DiGraphMap<Block, (), rustc_hash::FxBuildHasher> =
            DiGraphMap::with_capacity_and_hasher(0, 0, Default::default());
        for &b in &func.layout {
            graph.add_node(b);
        }
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
                graph.add_edge(b, to, ());
            }
        }
        // Reverse postorder by an explicit-stack DFS (deep CFGs after unrolling).
        let mut rpo_index: SecondaryMap<Block, u32> = SecondaryMap::with_default(NOT_REACHED);
        let mut post = Vec::new();
        let mut doms = None;
        if let Some(entry) = func.entry() {
            let mut visited: SecondaryMap<Block, bool> = SecondaryMap::new();
            let mut stack: Vec<(Block, usize)> = vec![(entry, 0)];
            visited[entry] = true;
            while let Some(top) = stack.last_mut() {
                let (b, i) = *top;
                if let Some(&s) = succs[b].get(i) {
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
            doms = Some(simple_fast(&graph, entry));
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
            doms,
        }
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

    /// The immediate dominator of a reachable block (`None` for the entry).
    pub fn idom(&self, b: Block) -> Option<Block> {
        let d = self.doms.as_ref()?.immediate_dominator(b)?;
        (d != b).then_some(d)
    }

    /// Whether `a` dominates `b` (both reachable; every block dominates itself).
    pub fn dominates(&self, a: Block, b: Block) -> bool {
        if !self.is_reachable(a) || !self.is_reachable(b) {
            return false;
        }
        let mut cur = b;
        loop {
            if cur == a {
                return true;
            }
            match self.idom(cur) {
                Some(d) => cur = d,
                None => return false,
            }
        }
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
            .back_edges()
            .iter()
            .filter(|e| e.to == header)
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

    /// Position of a reachable block in reverse postorder.
    pub fn rpo_position(&self, b: Block) -> Option<usize> {
        let i = self.rpo_index[b];
        (i != NOT_REACHED).then_some(i as usize)
    }
}
