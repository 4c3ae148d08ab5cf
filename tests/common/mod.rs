//! Helpers shared by the integration tests: where ../shared is, and running
//! the stapc binary.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// `../shared` next to the project root (as on CI), or /work/shared.
pub fn shared_dir() -> PathBuf {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if beside.is_dir() {
        return beside;
    }
    let fallback = PathBuf::from("/work/shared");
    assert!(
        fallback.is_dir(),
        "the shared/ folder (conformance scripts) was not found next to the project root"
    );
    fallback
}

pub fn stapc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stapc"))
}

pub fn run(args: &[&str]) -> Output {
    stapc().args(args).output().expect("the stapc binary runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
