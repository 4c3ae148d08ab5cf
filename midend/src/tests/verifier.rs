//! The verifier catches each invariant violation it documents.

use crate::ir::*;
use crate::verifier::{verify_function, verify_module, Location};
use stapc_bpf::{ArgKind, ErrorMsg, Format, ProbeKind};
use stapc_frontend::Span;

/// block0: v0 = iconst 1; brif v0, block1(v0), block2
/// block1(v1): printf format0(v1); jump block2
/// block2: return
fn good() -> Function {
    let s = Span::default();
    let mut f = Function::new("f");
    let b0 = f.create_block();
    let b1 = f.create_block();
    let b2 = f.create_block();
    let p = f.append_block_param(b1);
    let v0 = f.append(b0, InstData::Iconst { imm: 1 }, s).unwrap();
    f.append(
        b0,
        InstData::Brif {
            cond: v0,
            then_dest: b1,
            then_args: vec![v0],
            else_dest: b2,
            else_args: vec![],
        },
        s,
    );
    f.append(
        b1,
        InstData::Printf {
            format: 0,
            args: vec![OutArg::Long(p)],
        },
        s,
    );
    f.append(
        b1,
        InstData::Jump {
            dest: b2,
            args: vec![],
        },
        s,
    );
    f.append(b2, InstData::Return, s);
    f
}

fn module(f: Function) -> Module {
    Module {
        source_name: "t".into(),
        probes: vec![ProbeFunction {
            kind: ProbeKind::Begin { priority: 0 },
            point: "begin".into(),
            func: f,
        }],
        formats: vec![Format {
            text: "%d".into(),
            args: vec![ArgKind::Long],
        }],
        errors: vec![ErrorMsg {
            message: "m".into(),
            location: "l".into(),
        }],
        globals: GlobalsLayout {
            size: 8,
            init: vec![0; 8],
        },
        max_string_len: 64,
        ..Module::default()
    }
}

fn blk(n: usize) -> Block {
    cranelift_entity::EntityRef::new(n)
}

fn errors(f: &Function) -> Vec<String> {
    match verify_function(f) {
        Ok(()) => vec![],
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

fn assert_error(f: &Function, needle: &str) {
    let errs = errors(f);
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "expected {needle:?} in {errs:#?}"
    );
}

#[test]
fn a_good_function_verifies() {
    assert!(verify_function(&good()).is_ok());
    assert!(verify_module(&module(good())).is_ok());
}

#[test]
fn empty_layout() {
    assert_error(&Function::new("f"), "layout is empty");
}

#[test]
fn block_twice_in_layout() {
    let mut f = good();
    f.layout.push(blk(2));
    assert_error(&f, "twice in the layout");
}

#[test]
fn missing_terminator_and_terminator_in_the_middle() {
    let mut f = good();
    let b2 = blk(2);
    f.blocks[b2].insts.clear();
    assert_error(&f, "empty (no terminator)");
    let mut f = good();
    f.append(blk(2), InstData::Exit, Span::default());
    assert_error(&f, "does not end in a terminator");
    assert_error(&f, "terminator in the middle");
}

#[test]
fn entry_with_params() {
    let mut f = good();
    f.append_block_param(blk(0));
    assert_error(&f, "entry block has parameters");
}

#[test]
fn branch_arguments_must_match_parameters() {
    let mut f = good();
    let t = f.terminator(blk(0)).unwrap();
    if let InstData::Brif { then_args, .. } = &mut f.insts[t] {
        then_args.clear();
    }
    assert_error(&f, "0 arguments passed to block1, which has 1 parameters");
}

#[test]
fn branch_targets_must_exist_and_be_laid_out() {
    let mut f = good();
    f.layout.retain(|&b| b != blk(2));
    assert_error(&f, "not in the layout");
    let mut f = good();
    let t = f.terminator(blk(1)).unwrap();
    f.insts[t] = InstData::Jump {
        dest: blk(9),
        args: vec![],
    };
    assert_error(&f, "does not exist");
    let mut f = good();
    let t = f.terminator(blk(1)).unwrap();
    f.insts[t] = InstData::Jump {
        dest: blk(0),
        args: vec![],
    };
    assert_error(&f, "branch to the entry block");
}

#[test]
fn values_must_be_defined_before_use() {
    // Use in the same block before the definition.
    let mut f = good();
    let b2 = blk(2);
    let v = f
        .insert(b2, 0, InstData::Iconst { imm: 3 }, Span::default())
        .unwrap();
    f.insert(
        b2,
        0,
        InstData::StoreGlobal { offset: 0, arg: v },
        Span::default(),
    );
    assert_error(&f, "before its definition");
    // Use of block1's parameter in block2, which block1 does not dominate.
    let mut f = good();
    let p = f.blocks[blk(1)].params[0];
    f.insert(
        blk(2),
        0,
        InstData::StoreGlobal { offset: 0, arg: p },
        Span::default(),
    );
    assert_error(&f, "does not dominate block2");
    // A value that does not exist.
    let mut f = good();
    let bogus: Value = cranelift_entity::EntityRef::new(99);
    f.insert(
        blk(2),
        0,
        InstData::StoreGlobal {
            offset: 0,
            arg: bogus,
        },
        Span::default(),
    );
    assert_error(&f, "use of v99, which does not exist");
}

#[test]
fn results_must_match_their_instructions() {
    let mut f = good();
    let i = f.blocks[blk(0)].insts[0];
    f.results[i] = None.into();
    assert_error(&f, "has no result value");
}

#[test]
fn slots_must_exist() {
    let mut f = good();
    let bogus: Slot = cranelift_entity::EntityRef::new(3);
    f.insert(
        blk(2),
        0,
        InstData::StrConst {
            dst: bogus,
            value: "x".into(),
        },
        Span::default(),
    );
    assert_error(&f, "slot ss3 does not exist");
}

#[test]
fn module_indexes_and_printf_kinds() {
    let mut f = good();
    let b1 = blk(1);
    let i = f.blocks[b1].insts[0];
    f.insts[i] = InstData::Printf {
        format: 5,
        args: vec![],
    };
    let errs = verify_module(&module(f)).unwrap_err();
    assert!(errs[0].message.contains("format5 does not exist"));
    assert_eq!(errs[0].location, Location::Inst(b1, i));

    let mut f = good();
    let s = f.create_slot(64);
    f.insts[i] = InstData::Printf {
        format: 0,
        args: vec![OutArg::Str(s)],
    };
    let errs = verify_module(&module(f)).unwrap_err();
    assert!(errs[0].message.contains("do not match format0"), "{errs:?}");

    let mut f = good();
    let t = f.terminator(blk(2)).unwrap();
    f.insts[t] = InstData::Trap { error: 1 };
    assert!(verify_module(&module(f)).unwrap_err()[0]
        .message
        .contains("error1 does not exist"));

    let mut f = good();
    f.insert(
        blk(2),
        0,
        InstData::LoadGlobal { offset: 8 },
        Span::default(),
    );
    assert!(verify_module(&module(f)).unwrap_err()[0]
        .message
        .contains("outside the 8-byte globals"));
}

#[test]
fn errors_print_with_their_instruction() {
    let mut f = good();
    let t = f.terminator(blk(0)).unwrap();
    if let InstData::Brif { then_args, .. } = &mut f.insts[t] {
        then_args.clear();
    }
    let e = &verify_function(&f).unwrap_err()[0];
    assert_eq!(
        e.to_string(),
        "f block0 inst1: 0 arguments passed to block1, which has 1 parameters (`brif v1, block1, block2`)"
    );
}

#[test]
fn annotated_listing_puts_errors_under_their_instruction() {
    let mut f = good();
    let t = f.terminator(blk(0)).unwrap();
    if let InstData::Brif { then_args, .. } = &mut f.insts[t] {
        then_args.clear();
    }
    let errs = verify_function(&f).unwrap_err();
    let text = crate::verifier::annotate(&f, &errs);
    assert!(
        text.contains("    brif v1, block1, block2\n    ; error: 0 arguments passed to block1, which has 1 parameters\nblock1(v0):\n"),
        "{text}"
    );
}
