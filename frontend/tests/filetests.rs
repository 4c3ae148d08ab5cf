//! Filetests: every `tests/filetests/frontend/*.stp` (from the workspace
//! root) is run through parse and resolve; its rendered plain diagnostics
//! must equal the comment block at the end of the file. `BLESS=1` rewrites
//! that block. A first line `# args: A B` gives the script's arguments.

use stapc_frontend::{parse, render, resolve, DiagFormat, Options, SourceMap};
use std::path::{Path, PathBuf};

const MARKER: &str = "/* ==== expected diagnostics ====\n";
const END: &str = "==== end */\n";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/filetests/frontend")
}

/// Script part and expected part of a filetest.
fn split(text: &str) -> (&str, Option<&str>) {
    match text.find(MARKER) {
        Some(i) => {
            let rest = &text[i + MARKER.len()..];
            let exp = rest.strip_suffix(END).unwrap_or(rest);
            (&text[..i], Some(exp))
        }
        None => (text, None),
    }
}

fn diagnostics(name: &str, script: &str) -> String {
    let args: Vec<String> = script
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# args:"))
        .map(|a| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let opts = Options {
        script_args: args,
        ..Options::default()
    };
    let mut sm = SourceMap::new();
    let f = sm.add(name, script);
    let (ast, mut diags) = parse(&sm, f, &opts);
    if !diags.iter().any(|d| d.is_error()) {
        let (script, more) = resolve(&ast, &opts);
        assert_eq!(
            script.is_some(),
            !more.iter().any(|d| d.is_error()),
            "{name}: a Script must be returned exactly when there are no errors"
        );
        diags.extend(more);
    }
    render(&diags, &sm, DiagFormat::Plain)
}

#[test]
fn filetests() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/filetests/frontend exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "stp"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "only {} filetests", files.len());
    let mut failures = Vec::new();
    let mut codes = std::collections::BTreeSet::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable filetest");
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("x.stp");
        let (script, expected) = split(&text);
        let actual = diagnostics(name, script);
        for line in actual.lines() {
            if let Some(code) = line.split('[').nth(1).and_then(|r| r.split(']').next()) {
                if (line.starts_with("error[") || line.starts_with("warning[")) && code.len() == 5 {
                    codes.insert(code.to_string());
                }
            }
        }
        if bless {
            if expected != Some(actual.as_str()) {
                let new = format!("{script}{MARKER}{actual}{END}");
                std::fs::write(path, new).expect("writable filetest");
            }
        } else if expected != Some(actual.as_str()) {
            failures.push(format!(
                "{name}: diagnostics differ (BLESS=1 to update)\n--- expected\n{}\n--- actual\n{actual}",
                expected.unwrap_or("<no expectation block>")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        codes.len() >= 40,
        "only {} distinct codes covered: {codes:?}",
        codes.len()
    );
}
