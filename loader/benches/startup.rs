//! Startup benchmark: time from the command to the first event, stapc
//! against bpftrace, in the same run, for the paired jobs of shared/bench
//! (and a minimal one-probe pair).
//!
//! "First event" is made observable the same way for both tools: each job
//! gets one extra probe on `syscalls:sys_enter_getppid` that prints `first`
//! and exits, and this process calls getppid() in a loop while it waits. So
//! the time measured is: start the process, compile, load every program of
//! the job, attach every probe, and deliver one record to userspace.
//!
//! The stapc side is `$STAPC_BIN SCRIPT ARGS` when that variable names a
//! stapc binary that runs scripts on the kernel; otherwise this binary
//! re-runs itself as `startup --stapc-run SCRIPT ARGS`, which does what
//! `stapc SCRIPT` does (compile with `stapc::Session`, run with
//! `stapc_loader::run`). Jobs whose .stp does not compile yet are listed
//! with the compiler's reason.
//!
//! `cargo bench -p stapc-loader --bench startup [-- --runs N]`; needs root
//! (or CAP_BPF + CAP_PERFMON) and `bpftrace` on `$PATH`.
#![forbid(unsafe_code)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const MARKER_STP: &str =
    "\nprobe kernel.trace(\"syscalls:sys_enter_getppid\") { printf(\"first\\n\"); exit() }\n";
const MARKER_BT: &str =
    "\ntracepoint:syscalls:sys_enter_getppid { printf(\"first\\n\"); exit(); }\n";
/// Longest a run may take to print `first`.
const TIMEOUT: Duration = Duration::from_secs(30);

/// `--stapc-run SCRIPT ARGS...`: compile and run one script on the kernel.
fn stapc_run(script: &str, args: &[String]) -> ExitCode {
    let obj = match common::compile(script, args) {
        Ok(obj) => obj,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    match stapc_loader::run(
        &obj,
        &stapc_loader::RunOptions::default(),
        &mut out,
        &mut err,
    ) {
        Ok(status) => ExitCode::from(status.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("stapc: {e}");
            ExitCode::from(1)
        }
    }
}

/// Whether `script` compiles; the first line of the diagnostics if not.
fn compiles(script: &Path, args: &[String]) -> Result<(), String> {
    common::compile(&script.display().to_string(), args)
        .map(|_| ())
        .map_err(|e| e.lines().next().unwrap_or("does not compile").to_string())
}

/// Spawn `cmd`, wait for a stdout line `first`, then for the process to
/// end; (time to `first`, time to exit).
fn measure(mut cmd: Command) -> Result<(Duration, Duration), String> {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line == "first" {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    // Fire the marker probe until the tool has printed it.
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let trigger = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            let _ = std::os::unix::process::parent_id();
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let first = rx.recv_timeout(TIMEOUT);
    stop.store(true, Ordering::Relaxed);
    let _ = trigger.join();
    let first = match first {
        Ok(t) => t,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let err = errors.join().unwrap_or_default();
            return Err(format!(
                "no `first` line within {TIMEOUT:?}: {}",
                err.lines().next().unwrap_or("")
            ));
        }
    };
    let status = child.wait().map_err(|e| e.to_string())?;
    let exited = Instant::now();
    let err = errors.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{status}: {}", err.lines().next().unwrap_or("")));
    }
    Ok((first - started, exited - started))
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

struct Job {
    name: String,
    stp: PathBuf,
    bt: PathBuf,
    args: Vec<String>,
}

fn shared_bench() -> PathBuf {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench");
    if beside.is_dir() {
        beside
    } else {
        PathBuf::from("/work/shared/bench")
    }
}

/// The jobs with the marker probe appended, written under `tmp`.
fn jobs(tmp: &Path) -> std::io::Result<Vec<Job>> {
    let mut jobs = vec![];
    let minimal = Job {
        name: "minimal".into(),
        stp: tmp.join("minimal.stp"),
        bt: tmp.join("minimal.bt"),
        args: vec![],
    };
    std::fs::write(&minimal.stp, "# only the marker probe\n")?;
    std::fs::write(&minimal.bt, "// only the marker probe\n")?;
    jobs.push(minimal);
    let dir = shared_bench();
    let mut names: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "stp").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    for name in names {
        let stp = std::fs::read_to_string(dir.join(format!("{name}.stp")))?;
        let Ok(bt) = std::fs::read_to_string(dir.join(format!("{name}.bt"))) else {
            continue;
        };
        let job = Job {
            stp: tmp.join(format!("{name}.stp")),
            bt: tmp.join(format!("{name}.bt")),
            args: if stp.contains("$1") || stp.contains("@1") {
                vec!["bash".into()]
            } else {
                vec![]
            },
            name,
        };
        std::fs::write(&job.stp, stp)?;
        std::fs::write(&job.bt, bt)?;
        jobs.push(job);
    }
    for j in &jobs {
        let mut f = std::fs::OpenOptions::new().append(true).open(&j.stp)?;
        f.write_all(MARKER_STP.as_bytes())?;
        let mut f = std::fs::OpenOptions::new().append(true).open(&j.bt)?;
        f.write_all(MARKER_BT.as_bytes())?;
    }
    Ok(jobs)
}

fn stapc_command(job: &Job) -> Command {
    let mut cmd = match std::env::var_os("STAPC_BIN") {
        Some(bin) => Command::new(bin),
        None => {
            let mut c = Command::new(std::env::current_exe().unwrap_or_else(|_| "startup".into()));
            c.arg("--stapc-run");
            c
        }
    };
    cmd.arg(&job.stp).args(&job.args);
    cmd
}

fn bpftrace_command(job: &Job) -> Command {
    let mut cmd = Command::new("bpftrace");
    cmd.arg(&job.bt).args(&job.args);
    cmd
}

/// bpftrace needs tracefs mounted for tracepoints (stapc's loader mounts it
/// only for the id lookup): mounted at /sys/kernel/tracing for the run when
/// it is not, and unmounted after.
struct Tracefs {
    mounted: bool,
}

impl Tracefs {
    fn ensure() -> Tracefs {
        let root = Path::new("/sys/kernel/tracing");
        if root.join("events").is_dir() || Path::new("/sys/kernel/debug/tracing/events").is_dir() {
            return Tracefs { mounted: false };
        }
        let mounted = Command::new("mount")
            .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
            .status()
            .is_ok_and(|s| s.success());
        Tracefs { mounted }
    }
}

impl Drop for Tracefs {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("/sys/kernel/tracing").status();
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--stapc-run") {
        let Some(script) = args.get(i + 1) else {
            eprintln!("--stapc-run needs a script");
            return ExitCode::from(2);
        };
        return stapc_run(script, &args[i + 2..]);
    }
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    if let Err(why) = stapc_loader::can_load_bpf() {
        println!("startup benchmark skipped: {why}");
        return ExitCode::SUCCESS;
    }
    let _tracefs = Tracefs::ensure();
    let have_bpftrace = Command::new("bpftrace")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let tmp = std::env::temp_dir().join(format!("stapc-startup-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&tmp) {
        eprintln!("cannot create {}: {e}", tmp.display());
        return ExitCode::from(1);
    }
    let jobs = match jobs(&tmp) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("cannot prepare the jobs: {e}");
            return ExitCode::from(1);
        }
    };
    println!(
        "time from command to first event (median of {runs}; stapc = {})",
        match std::env::var("STAPC_BIN") {
            Ok(b) => b,
            Err(_) => "compile + stapc_loader::run in a fresh process".into(),
        }
    );
    println!(
        "{:<12} {:>12} {:>12} {:>14} {:>14} {:>9}",
        "job", "stapc ms", "bpftrace ms", "stapc exit ms", "bpftrace exit", "bt/stapc"
    );
    let mut not_run = Vec::new();
    for job in &jobs {
        if let Err(why) = compiles(&job.stp, &job.args) {
            not_run.push(format!("{}: stapc: {why}", job.name));
            continue;
        }
        let (mut s_first, mut s_exit, mut b_first, mut b_exit) = (vec![], vec![], vec![], vec![]);
        let mut failed = None;
        for _ in 0..runs {
            match measure(stapc_command(job)) {
                Ok((f, e)) => {
                    s_first.push(f);
                    s_exit.push(e);
                }
                Err(e) => failed = Some(format!("stapc: {e}")),
            }
            if have_bpftrace {
                match measure(bpftrace_command(job)) {
                    Ok((f, e)) => {
                        b_first.push(f);
                        b_exit.push(e);
                    }
                    Err(e) => failed = Some(format!("bpftrace: {e}")),
                }
            }
        }
        if let Some(why) = failed {
            not_run.push(format!("{}: {why}", job.name));
            continue;
        }
        let (sf, se) = (median(&mut s_first), median(&mut s_exit));
        let (bf, be) = (median(&mut b_first), median(&mut b_exit));
        let ratio = if have_bpftrace && sf > Duration::ZERO {
            format!("{:.2}x", bf.as_secs_f64() / sf.as_secs_f64())
        } else {
            "-".into()
        };
        println!(
            "{:<12} {:>12} {:>12} {:>14} {:>14} {:>9}",
            job.name,
            ms(sf),
            if have_bpftrace { ms(bf) } else { "-".into() },
            ms(se),
            if have_bpftrace { ms(be) } else { "-".into() },
            ratio
        );
    }
    if !have_bpftrace {
        println!("bpftrace is not installed: stapc times only");
    }
    for n in &not_run {
        println!("not measured: {n}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
    ExitCode::SUCCESS
}
