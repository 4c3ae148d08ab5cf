//! Every script of the shared conformance corpus goes through the frontend:
//! the ordinary ones parse and resolve without errors; the `err_*` ones whose
//! error is the frontend's give the expected messages and lines.

use stapc_frontend::{parse, render, resolve, DiagFormat, Options, SourceMap};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    let rel = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    if rel.is_dir() {
        rel
    } else {
        PathBuf::from("/work/shared/conformance")
    }
}

/// Errors of later stages (budget, loops, runtime): the frontend must accept these.
const LATER_STAGE: &[&str] = &["err_budget_4096", "err_kernel_unbounded_loop"];

fn run(path: &Path) -> (bool, String) {
    let text = std::fs::read_to_string(path).expect("readable script");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("x.stp")
        .to_string();
    let mut sm = SourceMap::new();
    let f = sm.add(name, text);
    let opts = Options::default();
    let (ast, mut diags) = parse(&sm, f, &opts);
    let mut ok = !diags.iter().any(|d| d.is_error());
    if ok {
        let (script, d2) = resolve(&ast, &opts);
        ok = script.is_some();
        diags.extend(d2);
    }
    (ok, render(&diags, &sm, DiagFormat::Plain))
}

#[test]
fn conformance_scripts_go_through_the_frontend() {
    let dir = corpus();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("conformance directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "stp"))
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 20,
        "conformance corpus not found at {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for p in &entries {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let (ok, out) = run(p);
        let frontend_error = stem.starts_with("err_") && !LATER_STAGE.contains(&stem);
        if !frontend_error {
            if !ok {
                failures.push(format!("{stem}: unexpected errors:\n{out}"));
            }
            continue;
        }
        if ok {
            failures.push(format!("{stem}: expected an error, got none"));
            continue;
        }
        let expect = std::fs::read_to_string(p.with_extension("error")).unwrap_or_default();
        for line in expect.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            if !out.contains(line.trim()) {
                failures.push(format!("{stem}: missing `{line}` in:\n{out}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
