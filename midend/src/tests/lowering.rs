//! Lowering of each construct, asserted on the printed IR.

use super::*;
use crate::testing::*;
use stapc_frontend::script::*;

fn begin(b: &ScriptBuilder) -> ProbePoint {
    b.point("begin", PointKind::Begin { priority: 0 })
}

#[test]
fn arithmetic_and_division_check() {
    let src = "probe begin { x = 7; printf(\"%d\\n\", x / 2 + x % y) }";
    let mut b = ScriptBuilder::new("x.stp", src);
    let (x, y) = (local(0), local(1));
    let div = bin(
        BinaryOp::Div,
        lvar(x, b.span_nth("x", 1)),
        num(2, b.span("2")),
    );
    let rem = bin(
        BinaryOp::Mod,
        lvar(x, b.span_nth("x", 2)),
        lvar(y, b.span("y")),
    );
    let body = block(
        vec![
            expr_stmt(assign(
                VarRef::Local(x),
                None,
                num(7, b.span("7")),
                b.span("x = 7"),
            )),
            expr_stmt(printf(
                "%d\n",
                vec![bin(BinaryOp::Add, div, rem)],
                b.span("printf"),
            )),
        ],
        b.span("{ x = 7; printf(\"%d\\n\", x / 2 + x % y) }"),
    );
    let p = begin(&b);
    b.probe(
        src,
        vec![p],
        &[("x", ScalarType::Long), ("y", ScalarType::Long)],
        body,
    );
    let m = lower_ok(&b);
    let text = crate::print_module(&m);
    assert_eq!(
        text,
        "; module x.stp
; max_string_len 64
globals size 8
format0 = \"%d\\n\" (long)
error0 = \"division by 0\" near operator '%' at x.stp:1:47

function begin_0 {   ; probe begin  (Begin { priority: 0 })
block0:
    v3 = iconst 0
    v0 = iconst 7
    v1 = iconst 2
    v2 = sdiv v0, v1
    v4 = iconst 0
    v5 = icmp eq v3, v4
    brif v5, block1, block2
block1:
    trap error0
block2:
    v6 = srem v0, v3
    v7 = iadd v2, v6
    printf format0(v7)
    return
}
"
    );
}
