//! Branch folding: a `brif` on a constant, or whose two edges are the same
//! block with the same arguments, becomes a `jump`. The untaken successor
//! may become unreachable (removed by `eliminate_unreachable_code`).

use crate::ir::{Function, InstData};

pub fn fold_branches(func: &mut Function) -> bool {
    let mut changed = false;
    for b in func.layout.clone() {
        let Some(t) = func.terminator(b) else {
            continue;
        };
        let InstData::Brif {
            cond,
            then_dest,
            then_args,
            else_dest,
            else_args,
        } = &func.insts[t]
        else {
            continue;
        };
        let new = if then_dest == else_dest && then_args == else_args {
            Some(InstData::Jump {
                dest: *then_dest,
                args: then_args.clone(),
            })
        } else {
            func.const_value(*cond).map(|c| {
                if c != 0 {
                    InstData::Jump {
                        dest: *then_dest,
                        args: then_args.clone(),
                    }
                } else {
                    InstData::Jump {
                        dest: *else_dest,
                        args: else_args.clone(),
                    }
                }
            })
        };
        if let Some(new) = new {
            func.insts[t] = new;
            changed = true;
        }
    }
    changed
}
