//! Code-generation benchmark, stapc against bpftrace in the same run, for
//! the paired jobs of shared/bench: compile time (`stapc -p4` against
//! `bpftrace --emit-elf`, both a fresh process, median of N) and code size
//! (instruction slots of the kernel programs in each object; a 64-bit
//! immediate load counts as the two slots it takes). With `--verifier` and
//! the right to load BPF, also the kernel verifier's "processed N insns"
//! for stapc's programs.
//!
//! The stapc side re-runs this binary as `codegen --stapc-compile SCRIPT
//! OUT ARGS…` (compile with `stapc::Session`, write the object), so both
//! tools pay for a process start. Scripts that take `$1`/`@1` get `bash`.
//!
//! `cargo bench -p stapc-loader --bench codegen [-- --runs N] [-- --verifier]`;
//! the bpftrace side needs `bpftrace` on `$PATH` and, for its tracepoint
//! checks, a readable tracefs (run as root).
#![forbid(unsafe_code)]

mod common;

use object::{Object as _, ObjectSection as _, SectionKind};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench")
}

/// `--stapc-compile SCRIPT OUT ARGS…`.
fn stapc_compile(script: &str, out: &str, args: &[String]) -> ExitCode {
    let obj = match common::compile(script, args) {
        Ok(obj) => obj,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(1);
        }
    };
    match stapc_bpf::elf::write(&obj).map(|b| std::fs::write(out, b)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

/// Run `cmd` to completion; its wall time, or why it failed.
fn time(mut cmd: Command) -> Result<Duration, String> {
    let t = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    let d = t.elapsed();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err
            .lines()
            .find(|l| !l.is_empty())
            .unwrap_or("failed")
            .to_string());
    }
    Ok(d)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Instruction slots of the kernel programs of a stapc object.
fn stapc_size(path: &Path) -> Result<usize, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let obj = stapc_bpf::elf::read(&bytes).map_err(|e| e.to_string())?;
    Ok(obj
        .programs
        .iter()
        .filter(|p| !p.kind.is_userspace())
        .map(|p| p.insns.len())
        .sum())
}

/// Instruction slots of every executable section of an ELF object.
fn elf_size(path: &Path) -> Result<usize, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let file = object::File::parse(&*bytes).map_err(|e| e.to_string())?;
    Ok(file
        .sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .map(|s| s.size() as usize / 8)
        .sum())
}

/// The kernel verifier's "processed N insns" summed over the kernel
/// programs of a stapc object.
fn processed(path: &Path) -> Result<u64, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let obj = stapc_bpf::elf::read(&bytes).map_err(|e| e.to_string())?;
    let maps = obj
        .maps
        .iter()
        .map(stapc_loader::Map::create_and_init)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let fds: Vec<_> = maps
        .iter()
        .map(|m| std::os::fd::AsRawFd::as_raw_fd(&m.fd()))
        .collect();
    let mut total = 0;
    for p in obj.programs.iter().filter(|p| !p.kind.is_userspace()) {
        let insns =
            stapc_loader::patch_map_fds(&p.name, &p.insns, &fds).map_err(|e| e.to_string())?;
        let spec = stapc_loader::ProgramSpec {
            name: &p.name,
            point: &p.point,
            prog_type: p.kind.program_type(),
            expected_attach_type: 0,
            insns: &insns,
            license: &obj.license,
            lines: None,
        };
        let (_fd, log) = stapc_loader::load_program_with_stats(&spec).map_err(|e| e.to_string())?;
        let n = log
            .lines()
            .find_map(|l| l.strip_prefix("processed "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or("no `processed N insns` in the verifier log")?;
        total += n;
    }
    Ok(total)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--stapc-compile") {
        let (Some(script), Some(out)) = (args.get(i + 1), args.get(i + 2)) else {
            eprintln!("--stapc-compile needs a script and an output path");
            return ExitCode::from(2);
        };
        return stapc_compile(script, out, &args[i + 3..]);
    }
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
        .max(1);
    let verifier = args.iter().any(|a| a == "--verifier");
    let Ok(me) = std::env::current_exe() else {
        eprintln!("cannot find this benchmark's own binary");
        return ExitCode::from(1);
    };
    let have_bpftrace = Command::new("bpftrace")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let tmp = std::env::temp_dir().join(format!("stapc-codegen-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&tmp) {
        eprintln!("cannot create {}: {e}", tmp.display());
        return ExitCode::from(1);
    }
    let mut names: Vec<String> = match std::fs::read_dir(bench_dir()) {
        Ok(d) => d
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".stp")
                    .map(str::to_string)
            })
            .collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", bench_dir().display());
            return ExitCode::from(1);
        }
    };
    names.sort();
    println!("compile time (median of {runs}, fresh processes) and kernel code size in instruction slots");
    println!(
        "{:<12} {:>10} {:>12} {:>9} {:>11} {:>14} {:>10}{}",
        "job",
        "stapc ms",
        "bpftrace ms",
        "bt/stapc",
        "stapc insns",
        "bpftrace insns",
        "stapc/bt",
        if verifier { "  stapc processed" } else { "" }
    );
    let mut notes = Vec::new();
    let (mut time_ratios, mut size_ratios) = (Vec::new(), Vec::new());
    for name in &names {
        let stp = bench_dir().join(format!("{name}.stp"));
        let bt = bench_dir().join(format!("{name}.bt"));
        let text = std::fs::read_to_string(&stp).unwrap_or_default();
        let script_args: Vec<String> = if text.contains("$1") || text.contains("@1") {
            vec!["bash".into()]
        } else {
            vec![]
        };
        let s_out = tmp.join(format!("{name}.stapc.o"));
        let b_out = tmp.join(format!("{name}.bt.o"));
        let mut s_times = Vec::new();
        let mut failed = None;
        for _ in 0..runs {
            let mut cmd = Command::new(&me);
            cmd.arg("--stapc-compile")
                .arg(&stp)
                .arg(&s_out)
                .args(&script_args);
            match time(cmd) {
                Ok(d) => s_times.push(d),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            notes.push(format!("{name}: stapc: {e}"));
            continue;
        }
        let s_ms = median(s_times).as_secs_f64() * 1e3;
        let s_size = match stapc_size(&s_out) {
            Ok(n) => n,
            Err(e) => {
                notes.push(format!("{name}: reading stapc's object: {e}"));
                continue;
            }
        };
        let mut bt_cells = (
            String::from("-"),
            String::from("-"),
            String::from("-"),
            String::from("-"),
        );
        if !have_bpftrace {
            notes.push(format!("{name}: bpftrace is not on $PATH"));
        } else if !bt.exists() {
            notes.push(format!("{name}: no {name}.bt"));
        } else {
            let mut b_times = Vec::new();
            let mut failed = None;
            for _ in 0..runs {
                let mut cmd = Command::new("bpftrace");
                cmd.arg("--emit-elf")
                    .arg(&b_out)
                    .arg(&bt)
                    .args(&script_args);
                match time(cmd) {
                    Ok(d) => b_times.push(d),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match (failed, elf_size(&b_out)) {
                (Some(e), _) => notes.push(format!("{name}: bpftrace: {e}")),
                (None, Err(e)) => notes.push(format!("{name}: reading bpftrace's object: {e}")),
                (None, Ok(b_size)) => {
                    let b_ms = median(b_times).as_secs_f64() * 1e3;
                    time_ratios.push(b_ms / s_ms);
                    size_ratios.push(s_size as f64 / b_size as f64);
                    bt_cells = (
                        format!("{b_ms:.1}"),
                        format!("{:.1}×", b_ms / s_ms),
                        b_size.to_string(),
                        format!("{:.2}", s_size as f64 / b_size as f64),
                    );
                }
            }
        }
        let processed_cell = if verifier {
            match processed(&s_out) {
                Ok(n) => format!("  {n:>15}"),
                Err(e) => {
                    notes.push(format!("{name}: verifier: {e}"));
                    format!("  {:>15}", "-")
                }
            }
        } else {
            String::new()
        };
        println!(
            "{:<12} {:>10.1} {:>12} {:>9} {:>11} {:>14} {:>10}{}",
            name, s_ms, bt_cells.0, bt_cells.1, s_size, bt_cells.2, bt_cells.3, processed_cell
        );
    }
    let geo = |v: &[f64]| (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp();
    if !time_ratios.is_empty() {
        println!(
            "geometric mean: bpftrace takes {:.1}× stapc's compile time; stapc's code is {:.2}× bpftrace's size",
            geo(&time_ratios),
            geo(&size_ratios)
        );
    }
    for n in notes {
        println!("not compared: {n}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
    ExitCode::SUCCESS
}
