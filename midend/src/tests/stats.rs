//! Lowering of statistics: `<<<`, the aggregates with their "empty
//! aggregate" check, `print(@hist_…)` descriptors, `delete`, and the
//! diagnostics for what kernel probes cannot do.

use crate::ir::{InstData, Module, StatOp};
use stapc_bpf::ArgKind;
use stapc_frontend::{Diagnostic, SourceMap};

fn lower_src(src: &str) -> Result<Module, Vec<Diagnostic>> {
    let mut sm = SourceMap::new();
    let file = sm.add("s.stp", src);
    let fopts = stapc_frontend::Options::default();
    let (ast, d) = stapc_frontend::parse(&sm, file, &fopts);
    assert!(d.is_empty(), "{d:#?}");
    let (script, d) = stapc_frontend::resolve(&ast, &fopts);
    let Some(script) = script else {
        panic!("sema failed: {d:#?}")
    };
    crate::lower(&script, &sm, &super::opts(0))
}

fn insts(m: &Module, probe: usize) -> Vec<InstData> {
    let f = &m.probes[probe].func;
    f.layout
        .iter()
        .flat_map(|b| f.blocks[*b].insts.iter().map(|i| f.insts[*i].clone()))
        .collect()
}

#[test]
fn every_statistic_global_gets_a_descriptor_even_if_only_used_in_never() {
    let m = lower_src(
        "global s, e\nprobe never { e <<< 1 }\nprobe begin { s <<< 2; print(@hist_log(s)) }",
    )
    .unwrap();
    let names: Vec<&str> = m.stats.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["s", "e"]);
    assert!(m.stats[0].log && m.stats[0].linear.is_none());
    assert!(!m.stats[1].log);
    assert_eq!(m.hists.len(), 1);
    assert_eq!((m.hists[0].stat, m.hists[0].linear), (0, false));
    let i = insts(&m, 0);
    assert!(i
        .iter()
        .any(|d| matches!(d, InstData::StatAdd { stat: 0, .. })));
    assert!(i
        .iter()
        .any(|d| matches!(d, InstData::PrintHist { hist: 0, key: None })));
}

#[test]
fn min_max_avg_check_the_count_and_raise_empty_aggregate() {
    let m =
        lower_src("global s\nprobe begin { printf(\"%d %d\\n\", @count(s), @avg(s)) }").unwrap();
    let i = insts(&m, 0);
    let reads: Vec<StatOp> = i
        .iter()
        .filter_map(|d| match d {
            InstData::StatRead { op, .. } => Some(*op),
            _ => None,
        })
        .collect();
    assert_eq!(reads, [StatOp::Count, StatOp::Count, StatOp::Avg]);
    assert!(i.iter().any(|d| matches!(d, InstData::Trap { .. })));
    assert_eq!(m.errors.len(), 1);
    assert_eq!(m.errors[0].message, "empty aggregate");
    assert_eq!(m.errors[0].location, "near operator '@avg' at s.stp:2:44");
}

#[test]
fn linear_histogram_parameters_and_delete() {
    let m = lower_src(
        "global t\nprobe begin { t <<< 3; print(@hist_linear(t, 0, 50, 10)); \
         print(@hist_linear(t, 0, 50, 10)); delete t }",
    )
    .unwrap();
    assert_eq!(m.stats[0].linear, Some((0, 50, 10)));
    assert_eq!(m.stats[0].linear_buckets(), 8);
    // Both print sites share one histogram descriptor.
    assert_eq!(m.hists.len(), 1);
    assert!(insts(&m, 0)
        .iter()
        .any(|d| matches!(d, InstData::StatClear { stat: 0 })));
}

#[test]
fn different_linear_bounds_are_a_diagnostic() {
    let errs = lower_src(
        "global t\nprobe begin { t <<< 3; print(@hist_linear(t, 0, 50, 10)); \
         print(@hist_linear(t, 0, 40, 10)) }",
    )
    .unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].message.contains("different bounds"), "{errs:?}");
}

#[test]
fn kernel_probes_add_and_print_but_do_not_read() {
    let m = lower_src(
        "global s\nprobe timer.ms(10) { s <<< 1; print(@hist_log(s)) }\nprobe end { print(@count(s)) }",
    )
    .unwrap();
    assert!(insts(&m, 0)
        .iter()
        .any(|d| matches!(d, InstData::StatAdd { .. })));
    let errs = lower_src("global s\nprobe timer.profile { s <<< 1; printf(\"%d\", @sum(s)) }")
        .unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].message.contains("@sum in kernel probes"),
        "{}",
        errs[0].message
    );
    let errs = lower_src("global s\nprobe timer.profile { s <<< 1; delete s }").unwrap_err();
    assert!(errs[0].message.contains("`delete` of a statistic"));
}

#[test]
fn arrays_of_statistics_add_with_a_key_and_check_for_a_full_array() {
    let m = lower_src(
        "global a\nprobe timer.profile { a[pid()] <<< 1 }\nprobe end { print(@count(a[1])); print(@hist_log(a[2])) }",
    )
    .unwrap();
    let text = crate::print_module(&m);
    assert!(text.contains("= stat_add stat0[ss"), "{text}");
    assert!(text.contains("Array overflow"), "{text}");
    assert!(text.contains("= stat_read.count stat0[ss"), "{text}");
    assert!(text.contains("print_hist hist0[ss"), "{text}");
    assert_eq!(m.arrays[0].stat, Some(0));
    assert_eq!(m.stats[0].keys, vec![ArgKind::Long]);
    // Their elements are statistics: no `v = [k]` value in a foreach.
    let errs = lower_src("global a\nprobe end { a[1] <<< 1; foreach (v = [k] in a) print(k) }")
        .unwrap_err();
    assert!(
        errs.iter()
            .any(|d| d.message.contains("over an array of statistics")),
        "{errs:?}"
    );
}
