//! Fuzz target: any UTF-8 text through parse, -p1 printing, resolve, -p2
//! printing and rendering must never panic; and a script that parsed
//! cleanly must parse again, identically, from its -p1 print.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stapc_frontend::{ast, parse, print_ast, print_script, render, resolve, DiagFormat, Options, SourceMap};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut sm = SourceMap::new();
    let f = sm.add("fuzz.stp", text);
    let opts = Options { script_args: vec!["1".into(), "two".into()], ..Options::default() };
    let (tree, mut diags) = parse(&sm, f, &opts);
    let printed = print_ast(&tree);
    if !diags.iter().any(|d| d.is_error()) {
        let mut sm2 = SourceMap::new();
        let f2 = sm2.add("again.stp", printed);
        let (again, d2) = parse(&sm2, f2, &opts);
        assert!(!d2.iter().any(|d| d.is_error()), "the -p1 print does not parse");
        assert_eq!(ast::dump(&again), ast::dump(&tree), "the -p1 print parses differently");
    }
    let (script, more) = resolve(&tree, &opts);
    if let Some(s) = &script {
        let _ = print_script(s);
    }
    diags.extend(more);
    let _ = render(&diags, &sm, DiagFormat::Plain);
    let _ = render(&diags, &sm, DiagFormat::Json);
});
