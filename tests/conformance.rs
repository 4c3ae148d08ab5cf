//! Runs every script of ../shared/conformance with `stapc --sim` and compares
//! stdout with `NAME.expected` and, where `NAME.error` exists, the exit status
//! and the stderr substrings it lists.
//!
//! Scripts the compiler cannot run yet are listed, with the missing feature,
//! in tests/conformance_unsupported.txt. The test fails when an unlisted
//! script fails, and when a listed one starts passing (so the list only
//! shrinks).

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

struct Verdict {
    pass: bool,
    why: String,
}

fn run_script(stp: &Path) -> Verdict {
    let dir = stp.parent().unwrap();
    let stem = stp.file_stem().unwrap().to_str().unwrap();
    let src = std::fs::read_to_string(stp).unwrap();
    let mut args: Vec<String> = Vec::new();
    if let Some(line) = src.lines().find_map(|l| l.strip_prefix("# stapc-args:")) {
        args.extend(line.split_whitespace().map(str::to_string));
    }
    args.push("--sim".into());
    // Run from the script's folder with a relative name so locations in
    // messages read `NAME.stp:LINE`.
    args.push(format!("{stem}.stp"));
    let out = common::stapc()
        .args(&args)
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = common::text(&out.stdout);
    let stderr = common::text(&out.stderr);
    let status = out.status.code().unwrap_or(-1);

    let mut problems = Vec::new();
    let (want_status, substrings) = match std::fs::read_to_string(dir.join(format!("{stem}.error")))
    {
        Ok(e) => {
            let mut lines = e.lines();
            let st = lines
                .next()
                .and_then(|l| l.strip_prefix("exit:"))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(1);
            (
                st,
                lines
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            )
        }
        Err(_) => (0, Vec::new()),
    };
    if status != want_status {
        problems.push(format!("exit status {status}, expected {want_status}"));
    }
    for s in &substrings {
        if !stderr.contains(s.as_str()) {
            problems.push(format!("stderr lacks `{s}`"));
        }
    }
    if let Ok(expected) = std::fs::read_to_string(dir.join(format!("{stem}.expected"))) {
        if stdout != expected {
            problems.push(format!(
                "stdout differs:\n--- expected\n{expected}--- got\n{stdout}"
            ));
        }
    }
    if !problems.is_empty() {
        problems.push(format!("stderr was:\n{stderr}"));
    }
    Verdict {
        pass: problems.is_empty(),
        why: problems.join("\n"),
    }
}

/// name → missing feature.
fn unsupported() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance_unsupported.txt");
    let text = std::fs::read_to_string(path).expect("tests/conformance_unsupported.txt exists");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, why) = l
                .split_once(':')
                .expect("lines are `NAME: missing feature`");
            (name.trim().to_string(), why.trim().to_string())
        })
        .collect()
}

#[test]
fn conformance_scripts_under_sim() {
    let dir = common::shared_dir().join("conformance");
    let mut scripts: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "stp"))
        .collect();
    scripts.sort();
    assert!(
        !scripts.is_empty(),
        "no conformance scripts in {}",
        dir.display()
    );

    let listed = unsupported();
    let mut passed = 0;
    let mut failed = 0;
    let mut errors = Vec::new();
    for stp in &scripts {
        let name = stp.file_stem().unwrap().to_str().unwrap().to_string();
        let v = run_script(stp);
        match (v.pass, listed.get(&name)) {
            (true, None) => passed += 1,
            (true, Some(_)) => {
                passed += 1;
                errors.push(format!(
                    "{name}: passes now; remove it from tests/conformance_unsupported.txt"
                ));
            }
            (false, Some(why)) => {
                failed += 1;
                println!("{name}: not yet supported ({why})");
            }
            (false, None) => {
                failed += 1;
                errors.push(format!("{name}: FAILED\n{}", v.why));
            }
        }
    }
    for name in listed.keys() {
        if !scripts
            .iter()
            .any(|s| s.file_stem().unwrap().to_str() == Some(name.as_str()))
        {
            errors.push(format!("{name}: listed as unsupported but no such script"));
        }
    }
    // Written to the stderr handle directly so the summary shows even though
    // the test harness captures println!.
    let _ = writeln!(
        std::io::stderr(),
        "conformance: {passed} passed, {failed} failed"
    );
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}
