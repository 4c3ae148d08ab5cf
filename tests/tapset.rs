//! SystemTap's own tapset library (Debian's `systemtap-common`, in
//! /usr/share/systemtap/tapset) must parse with `stapc -p1 -I TAPSET FILE`:
//! it is the largest body of real SystemTap code there is. The count may only
//! go up: the test fails below `MIN_PARSED`. Skips (and says why) when the
//! tapset is not installed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const TAPSET: &str = "/usr/share/systemtap/tapset";

/// Files of systemtap-common 4.8 that parse today: all 586.
const MIN_PARSED: usize = 586;

fn stp_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            stp_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "stp") {
            out.push(p);
        }
    }
    Ok(())
}

#[test]
fn tapset_library_parses() {
    let mut err = std::io::stderr();
    let dir = Path::new(TAPSET);
    if !dir.is_dir() {
        let _ = writeln!(
            err,
            "tapset: skipped, {TAPSET} does not exist (install Debian's systemtap-common)"
        );
        return;
    }
    let mut files = Vec::new();
    if let Err(e) = stp_files(dir, &mut files) {
        panic!("cannot list {TAPSET}: {e}");
    }
    files.sort();
    let mut failed = Vec::new();
    for f in &files {
        let out = Command::new(env!("CARGO_BIN_EXE_stapc"))
            .arg("-p1")
            .arg("-I")
            .arg(TAPSET)
            .arg(f)
            .output()
            .expect("run stapc");
        // Exit 1 is a diagnosed error; anything else (a crash) is a bug.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "stapc crashed on {}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            let first = String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            failed.push(format!("{}: {first}", f.display()));
        }
    }
    let parsed = files.len() - failed.len();
    let _ = writeln!(err, "tapset: {parsed} of {} files parse", files.len());
    for f in &failed {
        let _ = writeln!(err, "  {f}");
    }
    assert!(
        parsed >= MIN_PARSED,
        "only {parsed} tapset files parse, fewer than {MIN_PARSED}"
    );
}

/// `-I DIR` works without the system tapset: its macros expand in the
/// script, `-p1` prints the expansion, and a missing directory is an error.
#[test]
fn include_dir_macros_reach_the_script() {
    let dir = std::env::temp_dir().join(format!("stapc-inc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("linux")).expect("temp dir");
    std::fs::write(
        dir.join("linux/m.stpm"),
        "@define prefix %( %( arch == \"*\" %? \"__x64_\" %) %)\n",
    )
    .expect("write");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_stapc"))
            .args(args)
            .output()
            .expect("run stapc")
    };
    let d = dir.to_string_lossy().to_string();
    let out = run(&[
        "-p1",
        "-I",
        &d,
        "-e",
        "probe kernel.function(@prefix \"sys_read\") { }",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("kernel.function(\"__x64_sys_read\")"),
        "{text}"
    );
    // Without -I the macro is unknown.
    let out = run(&[
        "-p1",
        "-e",
        "probe kernel.function(@prefix \"sys_read\") { }",
    ]);
    assert!(!out.status.success());
    let missing = format!("{d}/none");
    let out = run(&["-p1", "-I", &missing, "-e", "probe begin { }"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("E0016") && err.contains("none"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
