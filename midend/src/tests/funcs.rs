//! Lowering of the functions/strings feature from script text: string
//! built-ins, sprintf and context built-ins in userspace probes, and the
//! diagnostics for the ones kernel probes cannot have.

use crate::ir::{ContextOp, InstData, StrOp};
use crate::{Module, Options};
use stapc_bpf::{KernelVersion, Target};
use stapc_frontend::{Diagnostic, SourceMap};

fn lower_src(src: &str, kernel: (u32, u32)) -> (SourceMap, Result<Module, Vec<Diagnostic>>) {
    let mut sm = SourceMap::new();
    let file = sm.add("f.stp", src);
    let fopts = stapc_frontend::Options::default();
    let (ast, diags) = stapc_frontend::parse(&sm, file, &fopts);
    assert!(diags.is_empty(), "{diags:#?}");
    let (script, diags) = stapc_frontend::resolve(&ast, &fopts);
    let script = script.unwrap_or_else(|| panic!("{diags:#?}"));
    let opts = Options {
        target: Target::new(KernelVersion::new(kernel.0, kernel.1)),
        max_string_len: 64,
        opt_level: 2,
        max_nesting: crate::DEFAULT_MAX_NESTING,
        ..Options::default()
    };
    let r = crate::lower(&script, &sm, &opts);
    (sm, r)
}

fn insts(m: &Module) -> Vec<InstData> {
    m.probes
        .iter()
        .flat_map(|p| {
            let f = &p.func;
            f.layout
                .iter()
                .flat_map(move |b| f.blocks[*b].insts.iter().map(move |i| f.insts[*i].clone()))
        })
        .collect()
}

#[test]
fn string_builtins_in_begin_become_str_ops() {
    let src = r#"probe begin { s = "a-b"; t = substr(s, 1, 2) . str_replace(s, "-", "+") . text_str(s)
  printf("%d %d %d %s\n", strlen(s), isinstr(s, "b"), strtol(s, 16), t) }"#;
    let (_, r) = lower_src(src, (6, 18));
    let m = r.unwrap_or_else(|d| panic!("{d:#?}"));
    let ops: Vec<(StrOp, bool)> = insts(&m)
        .into_iter()
        .filter_map(|i| match i {
            InstData::StrOp { op, dst, .. } => Some((op, dst.is_some())),
            _ => None,
        })
        .collect();
    for (op, writes) in [
        (StrOp::Substr, true),
        (StrOp::Replace, true),
        (StrOp::TextStr, true),
        (StrOp::Len, false),
        (StrOp::Isinstr, false),
        (StrOp::Strtol, false),
    ] {
        assert!(ops.contains(&(op, writes)), "{op:?} missing in {ops:?}");
    }
    // strtol checks its base at run time.
    assert!(
        m.errors
            .iter()
            .any(|e| e.message.contains("strtol: invalid base")),
        "{:?}",
        m.errors
    );
}

#[test]
fn sprintf_in_begin_formats_into_a_slot() {
    let (_, r) = lower_src(
        r#"probe begin { s = sprintf("%s=%d", "k", 3 + pid()); println(s) }"#,
        (6, 18),
    );
    let m = r.unwrap_or_else(|d| panic!("{d:#?}"));
    let sp: Vec<u32> = insts(&m)
        .into_iter()
        .filter_map(|i| match i {
            InstData::Sprintf { format, .. } => Some(format),
            _ => None,
        })
        .collect();
    assert_eq!(sp.len(), 1);
    // The literal "k" is folded into the format text.
    assert_eq!(m.formats[sp[0] as usize].text, "k=%d");
}

#[test]
fn context_builtins_lower_to_context_ops() {
    let (_, r) = lower_src(
        "probe begin { printf(\"%d %d %d %d %d %d\\n\", target(), ppid(), euid(), jiffies(), gettimeofday_ms(), randint(6)) }",
        (6, 18),
    );
    let m = r.unwrap_or_else(|d| panic!("{d:#?}"));
    let ops: Vec<ContextOp> = insts(&m)
        .into_iter()
        .filter_map(|i| match i {
            InstData::Context { op } => Some(op),
            _ => None,
        })
        .collect();
    for op in [
        ContextOp::Target,
        ContextOp::Ppid,
        ContextOp::Euid,
        ContextOp::Jiffies,
        ContextOp::RealtimeNs,
        ContextOp::Prandom,
    ] {
        assert!(ops.contains(&op), "{op:?} missing in {ops:?}");
    }
    assert!(m.errors.iter().any(|e| e.message.contains("randint")));
}

#[test]
fn kernel_probes_get_strlen_target_randint_but_not_the_rest() {
    let ok = r#"probe timer.profile { printf("%d %d %d %s %d\n", strlen(execname()), target(), randint(3), substr(execname(), 1, 2), gettimeofday_s()) }"#;
    for k in [(4, 14), (6, 18)] {
        let (_, r) = lower_src(ok, k);
        assert!(r.is_ok(), "{k:?}: {r:?}");
    }
    let cases = [
        (
            r#"probe timer.profile { println(str_replace("abc", "b", "c")) }"#,
            "str_replace() in kernel probes",
        ),
        (
            r#"probe timer.profile { println(sprintf("%d", 1)) }"#,
            "sprintf/sprint in kernel probes",
        ),
        (
            "probe timer.profile { println(ppid()) }",
            "ppid() in kernel probes",
        ),
    ];
    for (src, want) in cases {
        let (sm, r) = lower_src(src, (6, 18));
        let d = r.expect_err(src);
        assert!(d[0].message.contains(want), "{src}: {}", d[0].message);
        assert_eq!(d[0].code, crate::lower::E_UNSUPPORTED);
        // Reported at the call, which starts after `{ ` or `println(`.
        let loc = sm.location(d[0].primary_span().unwrap());
        assert!(loc.starts_with("f.stp:1:"), "{loc}");
    }
    // jiffies() needs bpf_jiffies64 (5.5).
    let j = "probe timer.profile { println(jiffies()) }";
    assert!(lower_src(j, (6, 18)).1.is_ok());
    let d = lower_src(j, (4, 14)).1.expect_err("4.14");
    assert!(d[0].message.contains("before 5.5"), "{}", d[0].message);
}

#[test]
fn recursive_functions_become_module_functions_with_a_depth_check() {
    let src = "function fib(n) { if (n < 2) return n; return fib(n - 1) + fib(n - 2) }
probe begin { printf(\"%d\\n\", fib(20)) }";
    let (_, r) = lower_src(src, (6, 18));
    let m = r.unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(m.functions.len(), 1);
    let f = &m.functions[0];
    let calls: Vec<(u32, usize)> = f
        .layout
        .iter()
        .flat_map(|b| f.blocks[*b].insts.iter())
        .filter_map(|i| match &f.insts[*i] {
            InstData::Call { func, args } => Some((*func, args.len())),
            _ => None,
        })
        .collect();
    // Two self-calls, each with the depth and n.
    assert_eq!(calls, vec![(0, 2), (0, 2)]);
    let text = crate::print_module(&m);
    assert!(text.contains("arg 0") && text.contains("arg 1"), "{text}");
    assert!(m.errors.iter().any(|e| e.message == "MAXNESTING exceeded"));
    // The probe calls it with depth 1.
    let probe_calls: Vec<InstData> = insts(&m)
        .into_iter()
        .filter(|i| matches!(i, InstData::Call { .. }))
        .collect();
    assert_eq!(probe_calls.len(), 1);
    let mut m2 = m.clone();
    crate::optimize(&mut m2, &Options::default()).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(m2.functions.len(), 1);
}

#[test]
fn recursive_functions_with_strings_are_refused_clearly() {
    let src = "function r:string(n) { if (n == 0) return \"\"; return r(n - 1) . \"x\" }
probe begin { println(r(3)) }";
    let (_, r) = lower_src(src, (6, 18));
    let d = r.expect_err("strings");
    assert!(
        d[0].message
            .contains("string parameters or results of recursive functions"),
        "{}",
        d[0].message
    );
}

#[test]
fn target_variables_are_context_loads() {
    let src = "probe syscall.write { printf(\"%d\\n\", $count) }
probe kernel.function(\"vfs_read\").return { printf(\"%d\\n\", $return) }";
    let (_, r) = lower_src(src, (6, 18));
    let m = r.unwrap_or_else(|d| panic!("{d:#?}"));
    let loads: Vec<(u32, u8, bool)> = insts(&m)
        .into_iter()
        .filter_map(|i| match i {
            InstData::LoadCtx {
                offset,
                size,
                signed,
            } => Some((offset, size, signed)),
            _ => None,
        })
        .collect();
    // count: the third field after the syscall number; ax of pt_regs.
    assert_eq!(loads, vec![(32, 8, true), (80, 8, true)]);
}
