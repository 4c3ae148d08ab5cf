//! The simulator fuzz targets' seed corpora (`fuzz/corpus/sim_*`) as a
//! smoke test: every file goes through the same function its target runs.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("directory entry").path();
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{}: seed corpus too small", dir.display());
    files
}

#[test]
fn sim_bytecode_corpus() {
    for (name, bytes) in corpus("sim_bytecode") {
        eprintln!("{name}");
        stapc_sim::fuzzing::bytecode(&bytes);
    }
}

#[test]
fn sim_generated_corpus() {
    for (name, bytes) in corpus("sim_generated") {
        eprintln!("{name}");
        stapc_sim::fuzzing::generated(&bytes);
    }
}

#[test]
fn sim_events_corpus() {
    for (name, bytes) in corpus("sim_events") {
        eprintln!("{name}");
        stapc_sim::fuzzing::events(&bytes);
    }
}

#[test]
fn verifier_corpus() {
    for (name, bytes) in corpus("verifier") {
        eprintln!("{name}");
        stapc_sim::fuzzing::verifier(&bytes);
    }
}

#[test]
fn elf_corpus() {
    for (name, bytes) in corpus("elf") {
        eprintln!("{name}");
        stapc_sim::fuzzing::elf(&bytes);
    }
}
