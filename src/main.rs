//! The `stapc` command line (clap): parse the options, run the driver, print
//! each stage, and exit with the script's status.
#![forbid(unsafe_code)]

use clap::Parser;
use stapc::{Options, Session, Stage};
use stapc_bpf::{KernelVersion, Target};
use stapc_frontend::render::DiagFormat;
use std::io::Write;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "stapc",
    version,
    about = "Compile SystemTap scripts to eBPF the verifier accepts; run them in a simulator or the kernel",
    after_help = "Runs the script on the kernel unless -p or --sim is given."
)]
struct Cli {
    /// Run SCRIPT given on the command line instead of a file.
    #[arg(short = 'e', value_name = "SCRIPT")]
    script_text: Option<String>,

    /// The script file (unless -e), then the script's arguments ($1, @1, …).
    /// Options may come after SCRIPT, as with stap; give arguments that start
    /// with `-` (other than negative numbers) after `--`.
    #[arg(value_name = "SCRIPT | ARGS", allow_negative_numbers = true)]
    rest: Vec<String>,

    /// Stop after pass N: 1 parse (print the AST), 2 resolve (print the
    /// resolved script), 3 translate (print the IR), 4 compile (write the object).
    #[arg(short = 'p', value_name = "N", value_parser = clap::value_parser!(u8).range(1..=4))]
    pass: Option<u8>,

    /// Where -p4 writes the object (default: SCRIPT's name with .bo, in the current directory).
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<std::path::PathBuf>,

    /// Print the compiled BPF of every probe (bpftool/llvm-objdump syntax).
    #[arg(short = 'd', long = "disasm")]
    disasm: bool,

    /// Print pass timings (like stap -v).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,

    /// Run the whole script in the userspace simulator (no root needed).
    #[arg(long)]
    sim: bool,

    /// Simulated time after which --sim ends the session (e.g. 10s, 500ms, 2000us).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    sim_duration: u64,

    /// Say why a program is (or would be) rejected by the verifier, at the
    /// script line: the mini-verifier's verdict and, when the process may load
    /// BPF, the kernel's.
    #[arg(long)]
    explain_verifier: bool,

    /// With --explain-verifier: explain this verifier log (from bpftool,
    /// bpftrace -v, libbpf…) instead of compiling; an object file may follow.
    #[arg(long, value_name = "LOG", requires = "explain_verifier")]
    kernel_log: Option<std::path::PathBuf>,

    /// The kernel to compile for (X.Y; default: the running kernel).
    #[arg(long, value_name = "X.Y", value_parser = parse_kernel)]
    target_kernel: Option<KernelVersion>,

    /// Instruction limit per kernel program (default: the target's, 4096 unless privileged).
    #[arg(long, value_name = "N")]
    insn_limit: Option<u32>,

    /// Optimisation level: -O0 or -O2.
    #[arg(short = 'O', value_name = "LEVEL", default_value = "2", value_parser = ["0", "1", "2"])]
    opt: String,

    /// JSON-lines events that drive --sim's kernel probes (see README).
    #[arg(long, value_name = "FILE")]
    sim_events: Option<std::path::PathBuf>,

    /// target() returns PID.
    #[arg(short = 'x', value_name = "PID")]
    target_pid: Option<i64>,

    /// Run CMD (with /bin/sh -c) once the probes are attached; target() is its
    /// pid and the session ends when it exits.
    #[arg(short = 'c', value_name = "CMD", conflicts_with = "target_pid")]
    command: Option<String>,

    /// Set a limit as in SystemTap: MAXSTRINGLEN, MAXMAPENTRIES, MAXERRORS, MAXNESTING.
    #[arg(short = 'D', value_name = "NAME=VAL")]
    defines: Vec<String>,

    /// An extra tapset directory (repeatable): the script may use the macros
    /// of its `.stpm` files (searched recursively).
    #[arg(short = 'I', value_name = "DIR")]
    tapset_dirs: Vec<std::path::PathBuf>,

    /// Diagnostics as human text or one JSON object per line.
    #[arg(long, value_name = "FORMAT", default_value = "human", value_parser = ["human", "json"])]
    message_format: String,
}

fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 10s or 500ms"))?;
    let mul = match unit {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" => 1_000,
        "ns" => 1,
        _ => return Err(format!("unknown unit `{unit}` (use s, ms, us or ns)")),
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("duration `{s}` is too long"))
}

fn parse_kernel(s: &str) -> Result<KernelVersion, String> {
    KernelVersion::parse(s).ok_or_else(|| format!("`{s}` is not a kernel version like 5.15"))
}

/// Apply `-D NAME=VAL`.
fn apply_define(opts: &mut Options, d: &str) -> Result<(), String> {
    let (name, val) = d
        .split_once('=')
        .ok_or_else(|| format!("-D {d}: expected NAME=VALUE"))?;
    let n: u64 = val
        .trim()
        .parse()
        .map_err(|_| format!("-D {d}: `{val}` is not a number"))?;
    match name.trim() {
        "MAXSTRINGLEN" => {
            if !(8..=4096).contains(&n) {
                return Err(format!("-D {d}: MAXSTRINGLEN must be between 8 and 4096"));
            }
            // Strings are copied in 8-byte words.
            opts.max_string_len = (n as u32).next_multiple_of(8);
        }
        "MAXMAPENTRIES" => {
            // The kernel refuses hash maps of 0 entries; keep sizes a u32.
            if !(1..=(1 << 24)).contains(&n) {
                return Err(format!(
                    "-D {d}: MAXMAPENTRIES must be between 1 and 16777216"
                ));
            }
            opts.max_map_entries = n as u32;
        }
        "MAXNESTING" => {
            if !(1..=200).contains(&n) {
                return Err(format!("-D {d}: MAXNESTING must be between 1 and 200"));
            }
            opts.max_nesting = n as u32;
        }
        "MAXERRORS" | "MAXACTION" => {}
        other => {
            return Err(format!(
            "-D {other}: unknown limit (known: MAXSTRINGLEN, MAXMAPENTRIES, MAXERRORS, MAXNESTING)"
        ))
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // `stapc bpf asm|disasm|run …`: the bytecode toolkit, with its own options.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("bpf") {
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr().lock();
        let status = stapc::toolkit::bpf_command(&args[2..], &mut out, &mut err);
        return ExitCode::from(status.clamp(0, 255) as u8);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("stapc: {msg}");
            ExitCode::from(1)
        }
    }
}

/// `--explain-verifier --kernel-log LOG [OBJECT]`.
fn explain_kernel_log(log_path: &std::path::Path, object: Option<&String>) -> Result<u8, String> {
    let log = std::fs::read_to_string(log_path)
        .map_err(|e| format!("cannot read verifier log `{}`: {e}", log_path.display()))?;
    let obj = match object {
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read object `{path}`: {e}"))?;
            Some(stapc_bpf::elf::read(&bytes).map_err(|e| format!("`{path}`: {e}"))?)
        }
        None => None,
    };
    let (diags, sm, n) = stapc::explain::explain_log(&log, obj.as_ref());
    if n == 0 {
        println!("{}: no rejection found in this log (the program was accepted, or the log is not a verifier log)", log_path.display());
        return Ok(0);
    }
    print!("{}", stapc_frontend::render(&diags, &sm, DiagFormat::Plain));
    Ok(1)
}

fn run(cli: Cli) -> Result<u8, String> {
    if let Some(log) = &cli.kernel_log {
        return explain_kernel_log(log, cli.rest.first());
    }
    let mut opts = Options {
        precheck: !cli.explain_verifier,
        ..Options::default()
    };
    let mut rest = cli.rest.into_iter();
    let (name, text) = match cli.script_text {
        Some(t) => ("<input>".to_string(), t),
        None => {
            let path = rest
                .next()
                .ok_or("no script given (a file, or -e 'SCRIPT')")?;
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read script `{path}`: {e}"))?;
            (path, text)
        }
    };
    opts.script_args = rest.collect();
    if let Some(k) = cli.target_kernel {
        opts.target = Target::new(k);
    }
    opts.target.insn_limit_override = cli.insn_limit;
    opts.opt_level = if cli.opt == "0" { 0 } else { 2 };
    opts.verbose = cli.verbose;
    opts.tapset_dirs = cli.tapset_dirs;
    opts.message_format = if cli.message_format == "json" {
        DiagFormat::Json
    } else {
        DiagFormat::Plain
    };
    for d in &cli.defines {
        apply_define(&mut opts, d)?;
    }

    let stop = match cli.pass {
        Some(1) => Stage::Parse,
        Some(2) => Stage::Resolve,
        Some(3) => Stage::Translate,
        _ => Stage::Compile,
    };
    let mut session = Session::new(&name, text, opts);
    let result = session.run(stop);
    let rendered = session.render_diagnostics();
    eprint!("{rendered}");
    if cli.verbose > 0 {
        for l in &session.timer.lines {
            eprintln!("{l}");
        }
    }
    let out = match result {
        Ok(o) => o,
        Err(stapc::Failed) => return Ok(1),
    };
    let mut stdout = std::io::stdout().lock();
    if let Some(text) = out.printed {
        stdout
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string())?;
        return Ok(0);
    }
    let Some(object) = out.object else {
        return Ok(1);
    };
    if cli.explain_verifier {
        let (report, diags, ok) = stapc::explain::explain_object(
            &object,
            &session.opts.target,
            &session.sm,
            session.file,
        );
        print!("{report}");
        print!(
            "{}",
            stapc_frontend::render(&diags, &session.sm, DiagFormat::Plain)
        );
        return Ok(if ok { 0 } else { 1 });
    }
    if cli.disasm {
        stdout
            .write_all(stapc::disassemble(&object).as_bytes())
            .map_err(|e| e.to_string())?;
        if cli.pass.is_none() && !cli.sim {
            return Ok(0);
        }
    }
    if cli.pass == Some(4) {
        let default_out = cli.output.is_none();
        let path = cli.output.unwrap_or_else(|| {
            let stem = std::path::Path::new(&name)
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| !s.is_empty() && *s != "<input>")
                .unwrap_or("stap");
            std::path::PathBuf::from(format!("{stem}.bo"))
        });
        let bytes = stapc_bpf::elf::write(&object).map_err(|e| e.to_string())?;
        std::fs::write(&path, bytes)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        if default_out {
            println!("{}", path.display());
        }
        return Ok(0);
    }
    if cli.sim {
        if cli.command.is_some() {
            return Err("-c runs a command on the real system; with --sim use -x PID".into());
        }
        let events = match &cli.sim_events {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read events file `{}`: {e}", path.display()))?;
                let ev = stapc_sim::parse_events(&text)
                    .map_err(|e| format!("{}:{e}", path.display()))?;
                Some(ev)
            }
            None => None,
        };
        let sim_opts = stapc_sim::SessionOptions {
            duration_ns: cli.sim_duration,
            target_pid: cli.target_pid,
            events,
            ..stapc_sim::SessionOptions::default()
        };
        let mut stderr = std::io::stderr().lock();
        let status = stapc_sim::run(&object, &sim_opts, &mut stdout, &mut stderr)
            .map_err(|e| e.to_string())?;
        return Ok(status.clamp(0, 255) as u8);
    }
    let run_opts = stapc_loader::runtime::RunOptions {
        target_pid: cli.target_pid,
        command: cli.command.map(|c| command_argv(&c)),
        verbose: cli.verbose,
    };
    let mut stderr = std::io::stderr().lock();
    let status = stapc_loader::runtime::run(&object, &run_opts, &mut stdout, &mut stderr)
        .map_err(|e| e.to_string())?;
    Ok(status.clamp(0, 255) as u8)
}

/// The argv of a `-c` command. Plain words run directly, so `target()` is
/// the command's own pid (as staprun does); anything a shell must interpret
/// (quotes, `$`, redirections, pipes, `;`, globs…) runs under `/bin/sh -c`.
fn command_argv(cmd: &str) -> Vec<String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c);
    if cmd.split_whitespace().next().is_some()
        && cmd.chars().all(|c| plain(c) || c == ' ' || c == '\t')
    {
        cmd.split_whitespace().map(str::to_string).collect()
    } else {
        vec!["/bin/sh".to_string(), "-c".to_string(), cmd.to_string()]
    }
}

#[cfg(test)]
mod tests {
    use super::command_argv;

    #[test]
    fn plain_commands_run_directly_and_shell_syntax_under_sh() {
        assert_eq!(command_argv("cat /etc/hostname"), ["cat", "/etc/hostname"]);
        assert_eq!(command_argv("  ls  -l "), ["ls", "-l"]);
        for shell in [
            "echo $HOME",
            "a | b",
            "a; b",
            "ls *.rs",
            "echo 'x y'",
            "a > f",
            "",
        ] {
            assert_eq!(command_argv(shell), ["/bin/sh", "-c", shell], "{shell}");
        }
    }
}
