//! Every conformance script whose probes can attach here and whose output
//! does not depend on real time is compiled, run on the kernel with the
//! runtime, and must print exactly what `--sim` prints (same stdout, same
//! exit status, the same `ERROR:` lines). The scripts left out, and why,
//! are listed in `EXCLUDED`. Runs when this process can load BPF; prints
//! why it skips otherwise.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use stapc::{Options, Session, Stage};
use stapc_bpf::{KernelVersion, Object, ProbeKind, Target};
use stapc_loader::{can_load_bpf, run, RunOptions};

/// Scripts that run on the kernel but whose output there depends on real
/// time or on the simulator's synthetic event context.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "sim_context",
        "prints the simulator's synthetic context (pid 1000, execname stapc-sim)",
    ),
    (
        "syscall_sim",
        "counts read() calls of the whole system during 5 ms of real time",
    ),
    (
        "timers_sim",
        "compares timer counts, which jitter in real time",
    ),
    (
        "tracepoint_sim",
        "counts sched_switch events of the whole system during 10 ms",
    ),
];

fn shared_dir() -> PathBuf {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if beside.is_dir() {
        return beside;
    }
    PathBuf::from("/work/shared")
}

/// `# stapc-args:` options that matter here: `-x PID`, `--target-kernel X.Y`.
fn script_options(text: &str) -> (Option<i64>, Option<KernelVersion>) {
    let mut pid = None;
    let mut kernel = None;
    for line in text.lines() {
        let Some(args) = line.strip_prefix("# stapc-args:") else {
            continue;
        };
        let words: Vec<&str> = args.split_whitespace().collect();
        for w in words.windows(2) {
            match w[0] {
                "-x" => pid = w[1].parse().ok(),
                "--target-kernel" => kernel = KernelVersion::parse(w[1]),
                _ => {}
            }
        }
    }
    (pid, kernel)
}

/// Why a compiled script cannot run here, if it cannot.
fn unattachable(obj: &Object) -> Option<String> {
    obj.programs.iter().find_map(|p| match &p.kind {
        ProbeKind::Begin { .. }
        | ProbeKind::End { .. }
        | ProbeKind::Error { .. }
        | ProbeKind::Timer { .. }
        | ProbeKind::Tracepoint { .. } => None,
        other => Some(format!("probe {} ({other:?}) is not run here", p.point)),
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn conformance_scripts_print_on_the_kernel_what_they_print_in_the_simulator() {
    if let Err(why) = can_load_bpf() {
        eprintln!("skipping conformance on the kernel: {why}");
        return;
    }
    let dir = shared_dir().join("conformance");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "stp"))
        .collect();
    scripts.sort();
    let mut ran = Vec::new();
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for path in scripts {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if let Some((_, why)) = EXCLUDED.iter().find(|(n, _)| *n == name) {
            skipped.push(format!("{name}: {why}"));
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let (target_pid, kernel) = script_options(&source);
        let mut opts = Options::default();
        if let Some(k) = kernel {
            opts.target = Target::new(k);
        }
        let mut session = Session::new(path.to_str().unwrap(), source, opts);
        let Ok(out) = session.run(Stage::Compile) else {
            let first = session.render_diagnostics();
            let first = first.lines().next().unwrap_or("").to_string();
            skipped.push(format!("{name}: does not compile ({first})"));
            continue;
        };
        let obj = out.object.unwrap();
        if let Some(why) = unattachable(&obj) {
            skipped.push(format!("{name}: {why}"));
            continue;
        }
        let sim_opts = stapc_sim::SessionOptions {
            target_pid,
            ..Default::default()
        };
        let (mut sim_out, mut sim_err) = (Vec::new(), Vec::new());
        let sim_status = stapc_sim::run(&obj, &sim_opts, &mut sim_out, &mut sim_err).unwrap();
        let (mut k_out, mut k_err) = (Vec::new(), Vec::new());
        let opts = RunOptions {
            target_pid,
            ..RunOptions::default()
        };
        let k_status = match run(&obj, &opts, &mut k_out, &mut k_err) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: the runtime failed: {e}"));
                continue;
            }
        };
        let errors = |e: &[u8]| -> Vec<String> {
            text(e)
                .lines()
                .filter(|l| l.starts_with("ERROR:"))
                .map(str::to_string)
                .collect()
        };
        if (k_status, text(&k_out), errors(&k_err))
            != (sim_status, text(&sim_out), errors(&sim_err))
        {
            failures.push(format!(
                "{name}: kernel (status {k_status}):\n{}{}\n--- simulator (status {sim_status}):\n{}{}",
                text(&k_out),
                text(&k_err),
                text(&sim_out),
                text(&sim_err)
            ));
            continue;
        }
        ran.push(name);
    }
    eprintln!(
        "ran on the kernel, same output as --sim: {}",
        ran.join(", ")
    );
    eprintln!("not run on the kernel:\n  {}", skipped.join("\n  "));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran.len() >= 5, "too few scripts ran: {ran:?}");
}
