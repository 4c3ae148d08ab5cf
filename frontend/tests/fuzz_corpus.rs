//! The fuzz target's seed corpus (`fuzz/corpus/frontend`) as a smoke test:
//! every input goes through parse, print, resolve and render without panics,
//! and a cleanly parsing input re-parses identically from its -p1 print.

use stapc_frontend::{
    ast, parse, print_ast, print_script, render, resolve, DiagFormat, Options, SourceMap,
};
use std::path::Path;

#[test]
fn fuzz_corpus_runs_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/frontend");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "corpus too small: {}", files.len());
    for p in files {
        let bytes = std::fs::read(&p).expect("readable corpus file");
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let mut sm = SourceMap::new();
        let f = sm.add("fuzz.stp", text);
        let opts = Options {
            script_args: vec!["1".into(), "two".into()],
            ..Options::default()
        };
        let (tree, mut diags) = parse(&sm, f, &opts);
        let printed = print_ast(&tree);
        if !diags.iter().any(|d| d.is_error()) {
            let mut sm2 = SourceMap::new();
            let f2 = sm2.add("again.stp", printed.clone());
            let (again, d2) = parse(&sm2, f2, &opts);
            assert!(
                !d2.iter().any(|d| d.is_error()),
                "{}: -p1 print does not parse:\n{printed}",
                p.display()
            );
            assert_eq!(
                ast::dump(&again),
                ast::dump(&tree),
                "{}: -p1 print parses differently",
                p.display()
            );
        }
        let (script, more) = resolve(&tree, &opts);
        if let Some(s) = &script {
            let _ = print_script(s);
        }
        diags.extend(more);
        let _ = render(&diags, &sm, DiagFormat::Plain);
        let _ = render(&diags, &sm, DiagFormat::Json);
    }
}
