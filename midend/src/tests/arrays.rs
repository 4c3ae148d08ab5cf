//! arrays: lowering of every array construct from script text (parsed and
//! resolved by the frontend), asserted on the printed IR; the module's
//! array table; and the refusals in kernel probes.

use super::opts;
use stapc_frontend::{Diagnostic, SourceMap};

fn lower_src(src: &str) -> Result<crate::Module, Vec<Diagnostic>> {
    let mut sm = SourceMap::new();
    let file = sm.add("a.stp", src);
    let fe = stapc_frontend::Options::default();
    let (ast, diags) = stapc_frontend::parse(&sm, file, &fe);
    assert!(!diags.iter().any(Diagnostic::is_error), "{diags:#?}");
    let (script, diags) = stapc_frontend::resolve(&ast, &fe);
    assert!(!diags.iter().any(Diagnostic::is_error), "{diags:#?}");
    let script = script.expect("resolved");
    crate::lower(&script, &sm, &opts(0))
}

fn ir(src: &str) -> String {
    match lower_src(src) {
        Ok(m) => crate::print_module(&m),
        Err(d) => panic!("lowering failed: {d:#?}"),
    }
}

fn assert_has(text: &str, lines: &[&str]) {
    for l in lines {
        assert!(text.contains(l), "missing `{l}` in:\n{text}");
    }
}

#[test]
fn arrays_are_described_in_the_module() {
    let m = lower_src("global a[10], s\nprobe begin { a[1, \"x\"] = 5; s[\"k\"] = \"v\" }")
        .expect("lowers");
    assert_eq!(m.arrays.len(), 2);
    assert_eq!(m.arrays[0].name, "a");
    assert_eq!(m.arrays[0].max_entries, 10);
    assert_eq!(m.arrays[0].key_size(64), 72);
    assert_eq!(m.arrays[0].key_offset(1, 64), 8);
    assert_eq!(m.arrays[1].max_entries, crate::lower::MAXMAPENTRIES);
    assert_eq!(m.arrays[1].value_size(64), 64);
    let text = crate::print_module(&m);
    assert_has(
        &text,
        &[
            "array0 = a[long, str] -> long (max 10)",
            "array1 = s[str] -> str (max 4096)",
        ],
    );
}

#[test]
fn element_writes_pack_the_key_and_check_for_overflow() {
    let text = ir("global a\nprobe begin { a[1, \"x\"] = 5 }");
    assert_has(
        &text,
        &[
            "key_store ss1+0, v0",
            "key_store_str ss1+8, ss0",
            "v2 = array_set array0[ss1], v1",
            "v4 = icmp slt v2, v3",
            "trap error0",
            "error0 = \"Array overflow, check MAXMAPENTRIES\" near identifier 'a' at a.stp:2:15",
        ],
    );
}

#[test]
fn reads_membership_and_delete() {
    let text = ir("global a, s\nprobe begin { s[\"q\"] = \"r\"; a[3] = 1\n\
                   if (3 in a) printf(\"%d %s\\n\", a[4], s[\"z\"]); delete a[3] }");
    assert_has(
        &text,
        &[
            "= array_in array0[",
            "= array_get array0[",
            "array_get_str ss",
            "array_delete array0[",
        ],
    );
}

#[test]
fn increments_in_statements_are_array_adds_and_in_expressions_get_set() {
    let text = ir("global a\nprobe begin { a[1]++; a[2] -= 3; x = a[3]++; println(x) }");
    assert_has(
        &text,
        &[
            "array_add array0[ss0], v1",
            "= ineg v",
            "array_add array0[ss0], v",
        ],
    );
    // `x = a[3]++` needs the old value: a get, an add, a set.
    let get = text.find("array_get array0").expect("a get");
    let set = text.find("array_set array0").expect("a set");
    assert!(get < set, "{text}");
}

#[test]
fn foreach_iterates_a_sorted_snapshot_and_binds_keys_and_value() {
    let text = ir("global a\nprobe begin { a[1, \"x\"] = 2\n\
                   foreach (v = [i, t] in a- limit 3) printf(\"%d %s %d\\n\", i, t, v)\n\
                   foreach ([i, t+] in a) println(i)\n delete a }");
    assert_has(
        &text,
        &[
            "array_iter_start array0, value-, limit v",
            "array_iter_start array0, key1+, limit v",
            "= array_iter_next v",
            "= key_load ss",
            "key_load_str ss",
            "array_iter_end v",
            "array_clear array0",
        ],
    );
    // The value is read with the iteration's key slot.
    assert!(text.contains("= array_get array0[ss"), "{text}");
}

#[test]
fn break_leaves_through_the_iterator_release() {
    let text =
        ir("global a\nprobe begin { a[1] = 1; foreach (k in a) { if (k) break }; println(\"x\") }");
    // One release, in the loop's exit block, which `break` jumps to.
    assert_eq!(text.matches("array_iter_end").count(), 1, "{text}");
}

#[test]
fn kernel_probes_refuse_foreach_and_whole_array_delete() {
    let errs = lower_src(
        "global a\nprobe timer.profile { a[1] = 1; foreach (k in a) println(k)\n delete a }",
    )
    .expect_err("refused");
    let msgs: Vec<&str> = errs.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    assert!(msgs[0].contains("bpf_for_each_map_elem"), "{}", msgs[0]);
    assert!(msgs[1].contains("`delete` of a whole array in a kernel probe"));
    assert!(errs.iter().all(|d| d.code == crate::lower::E_UNSUPPORTED));
}

#[test]
fn kernel_probes_lower_element_access() {
    let m = lower_src("global a\nprobe timer.ms(1) { a[pid()] += 2; if (1 in a) delete a[1] }")
        .expect("lowers");
    let text = crate::print_module(&m);
    assert_has(
        &text,
        &["array_add array0", "array_in array0", "array_delete array0"],
    );
}
