//! The bpf_conformance data files through our reader, assembler, strict
//! decoder and disassembler: every positive test must assemble (and agree
//! with its raw form), every negative test must be rejected before it runs,
//! except the few whose error only shows at run time.

use stapc_bpf::conformance::{
    default_data_dir, parse_data, raw_insns, read_suite, DataFile, RUNTIME_NEGATIVES,
};
use stapc_bpf::disasm::{check_program, disasm_program};

fn files(sub: &str) -> Vec<(String, String)> {
    let dir = default_data_dir().expect("bpf_conformance data (shared/bpf_conformance) not found");
    read_suite(&dir, sub).unwrap_or_else(|e| panic!("{}/{sub}: {e}", dir.display()))
}

#[test]
fn every_positive_test_assembles() {
    let all = files("tests");
    assert!(all.len() >= 300, "only {} files", all.len());
    let mut failures = Vec::new();
    let mut with_raw = 0;
    for (name, text) in &all {
        let f: DataFile = match parse_data(text) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if f.asm.is_none() {
            failures.push(format!("{name}: no asm"));
            continue;
        }
        if f.result.is_none() {
            failures.push(format!("{name}: no result"));
        }
        let prog = match f.program() {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if let Some(raw) = &f.raw {
            with_raw += 1;
            if raw_insns(raw) != prog {
                failures.push(format!("{name}: asm and raw disagree"));
            }
        }
        if let Err((i, e)) = check_program(&prog) {
            failures.push(format!("{name}: instruction {i}: {e}"));
        }
        let listing = disasm_program(&prog);
        if listing.contains("<invalid") {
            failures.push(format!("{name}: disassembly has invalid slots:\n{listing}"));
        }
    }
    assert!(with_raw >= 1);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_negative_test_is_rejected() {
    let all = files("negative");
    assert!(all.len() >= 60, "only {} files", all.len());
    let mut failures = Vec::new();
    for (name, text) in &all {
        let runtime = RUNTIME_NEGATIVES.contains(&name.as_str());
        let outcome = parse_data(text).map_err(|e| e.to_string()).and_then(|f| {
            let p = f.program().map_err(|e| e.to_string())?;
            check_program(&p).map_err(|(i, e)| format!("instruction {i}: {e}"))
        });
        if std::env::var_os("SHOW_NEGATIVES").is_some() {
            println!("{name}: {outcome:?}");
        }
        match (runtime, outcome) {
            (false, Ok(())) => failures.push(format!("{name}: accepted")),
            (true, Err(e)) => failures.push(format!("{name}: should assemble, got {e}")),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
