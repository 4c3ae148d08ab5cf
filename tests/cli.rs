//! The command line as a user meets it: every stage printed (`-p1`…`-p4`,
//! `-d`, `-v`), the example run in `--sim`, and bad input of every kind
//! giving a clear message and status 1 (or clap's 2 for a bad option).

mod common;

use common::{run, text};

const SLICE: &str = r#"global g = 5, s = "str"
probe begin { x = 7; y = -3; printf("%d %d %s\n", x / y, x % y, s); if (g > 4) println("big") else println("small") }
probe timer.ms(10) { g++; if (g >= 8) exit() }
probe end { printf("g=%d\n", g) }
"#;

#[test]
fn sim_runs_the_slice() {
    let out = run(&["--sim", "-e", SLICE]);
    assert_eq!(
        text(&out.stdout),
        "-2 1 str\nbig\ng=8\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert!(out.status.success());
}

#[test]
fn example_runs_in_sim() {
    let ex = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ticks.stp");
    let out = run(&["--sim", ex]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "counting ticks every 100 ms\ntick 1\ntick 2 (even)\ntick 3\ntick 4 (even)\ntick 5\n\
         ticks=5, 500 ms in all; 7 / -3 = -2\n"
    );
}

#[test]
fn p1_prints_a_script_that_parses_to_the_same_ast() {
    let first = run(&["-p1", "-e", SLICE]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let printed = text(&first.stdout);
    assert!(printed.contains("probe begin"), "{printed}");
    let second = run(&["-p1", "-e", &printed]);
    assert_eq!(text(&second.stdout), printed);
}

#[test]
fn p2_prints_globals_functions_and_probes() {
    let out = run(&["-p2", "-e", SLICE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("# globals"), "{s}");
    assert!(s.contains("g:long"), "{s}");
    assert!(s.contains("s:string"), "{s}");
    assert!(s.contains("# probes"), "{s}");
    assert!(s.contains("timer.ms(10)"), "{s}");
}

#[test]
fn p3_prints_ir_with_the_division_check() {
    let out = run(&[
        "-p3",
        "-e",
        "probe begin { x = 7; y = -3; printf(\"%d\\n\", x / y) }",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("begin_0"), "{s}");
    assert!(s.contains("block0"), "{s}");
    // Constant folding may remove the division; without optimisation it and its check stay.
    let o0 = text(
        &run(&[
            "-p3",
            "-O0",
            "-e",
            "probe begin { y = 0; printf(\"%d\\n\", 7 / y) }",
        ])
        .stdout,
    );
    assert!(o0.contains("sdiv"), "{o0}");
    assert!(o0.contains("division by 0"), "{o0}");
}

#[test]
fn p4_writes_an_elf_object() {
    let dir = std::env::temp_dir().join(format!("stapc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("x.bo");
    let out = run(&["-p4", "-o", obj.to_str().unwrap(), "-e", SLICE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&obj).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");
    let back = stapc_bpf::elf::read(&bytes).expect("stapc reads its own object");
    let names: Vec<_> = back.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn d_prints_every_program() {
    let out = run(&["-d", "-e", SLICE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("perf_event"), "{s}");
    assert!(s.contains("exit"), "{s}");
    assert!(s.contains("call "), "{s}");
}

#[test]
fn v_prints_pass_timings() {
    let out = run(&["-v", "-p4", "-o", "/dev/null", "-e", SLICE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let e = text(&out.stderr);
    for n in 1..=4 {
        assert!(e.contains(&format!("Pass {n}: ")), "{e}");
    }
    assert!(e.contains("real ms."), "{e}");
}

#[test]
fn syntax_error_points_at_the_line() {
    let out = run(&[
        "-p2",
        "-e",
        "probe begin {\n  x = (1 + 2\n  println(x)\n}\n",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("<input>:3:"), "{e}");
    assert!(e.contains("error"), "{e}");
}

#[test]
fn unknown_probe_point_is_an_error() {
    let out = run(&["-p2", "-e", "probe nosuch.point { }"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("<input>:1:"), "{e}");
    assert!(e.contains("nosuch"), "{e}");
}

#[test]
fn type_error_names_both_places() {
    let out = run(&["-p2", "-e", "probe begin {\n x = 1\n x = \"a\"\n}"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("<input>:2:") && e.contains("<input>:3:"), "{e}");
}

#[test]
fn unreadable_file_is_a_clear_error() {
    let out = run(&["--sim", "/nonexistent/dir/x.stp"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(
        e.contains("cannot read script `/nonexistent/dir/x.stp`"),
        "{e}"
    );
}

#[test]
fn bad_options_are_refused_with_a_reason() {
    let out = run(&["-p9", "-e", "probe begin {}"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("-p"), "{}", text(&out.stderr));
    let out = run(&["--target-kernel", "abc", "-p4", "-e", "probe begin {}"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("kernel version"));
    let out = run(&["-D", "MAXSTRINGLEN=x", "--sim", "-e", "probe begin {}"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("MAXSTRINGLEN"));
    let out = run(&["--sim"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no script given"));
}

#[test]
fn runtime_division_by_zero_in_a_kernel_probe() {
    let out = run(&[
        "--sim",
        "-e",
        "global z\nprobe timer.ms(1) { printf(\"%d\\n\", 10 / z) }\nprobe end { println(\"end\") }",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("ERROR: division by 0"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn sim_events_file_drives_kernel_probes() {
    let dir = std::env::temp_dir().join(format!("stapc-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ev = dir.join("ev.jsonl");
    std::fs::write(
        &ev,
        "{\"time\": \"2ms\", \"probe\": \"kernel.trace(\\\"sched:sched_switch\\\")\", \"pid\": 42, \"comm\": \"cat\"}\n\
         {\"time\": \"5ms\", \"probe\": \"kernel.trace(\\\"sched:sched_switch\\\")\", \"pid\": 43}\n",
    )
    .unwrap();
    let script =
        "probe kernel.trace(\"sched:sched_switch\") { printf(\"%d %s\\n\", pid(), execname()) }\n\
                  probe timer.ms(10) { exit() }";
    let out = run(&["--sim", "--sim-events", ev.to_str().unwrap(), "-e", script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "42 cat\n43 stapc-sim\n");
    // Tracepoint fields and syscall arguments reach `$name` at the offsets
    // the compiler chose (4-byte fields truncate, as the kernel's would).
    std::fs::write(
        &ev,
        "{\"time\": \"1ms\", \"probe\": \"kernel.trace(\\\"sched:sched_switch\\\")\", \"fields\": {\"prev_pid\": 42, \"next_pid\": -1, \"prev_state\": 4294967297}}\n\
         {\"time\": \"2ms\", \"probe\": \"kernel.trace(\\\"syscalls:sys_enter_read\\\")\", \"fields\": {\"fd\": 3, \"count\": 4096}}\n",
    )
    .unwrap();
    let fields = "probe kernel.trace(\"sched:sched_switch\") { printf(\"%d -> %d %d\\n\", $prev_pid, $next_pid, $prev_state) }\n\
                  probe kernel.trace(\"syscalls:sys_enter_read\") { printf(\"read(%d, %d)\\n\", $fd, $count) }\n\
                  probe timer.ms(10) { exit() }";
    let out = run(&["--sim", "--sim-events", ev.to_str().unwrap(), "-e", fields]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "42 -> -1 4294967297\nread(3, 4096)\n");
    // A malformed file names the line.
    std::fs::write(&ev, "{\"time\": 1}\n{oops\n").unwrap();
    let out = run(&["--sim", "--sim-events", ev.to_str().unwrap(), "-e", script]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("ev.jsonl:"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The whole script on the real kernel: a timer, exit(), the end probe —
/// the same output as --sim. Skipped with the reason where BPF cannot be loaded.
#[test]
fn kernel_run_matches_sim() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        eprintln!("skipped: {why}");
        return;
    }
    let script =
        "global n\nprobe timer.ms(20) { n++; printf(\"tick %d\\n\", n); if (n == 3) exit() }\n\
                  probe end { printf(\"end n=%d\\n\", n) }";
    let kernel = run(&["-e", script]);
    let sim = run(&["--sim", "-e", script]);
    assert!(kernel.status.success(), "{}", text(&kernel.stderr));
    assert_eq!(text(&kernel.stdout), "tick 1\ntick 2\ntick 3\nend n=3\n");
    assert_eq!(text(&kernel.stdout), text(&sim.stdout));
}

#[test]
fn kernel_run_with_c_ends_when_the_command_does() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        eprintln!("skipped: {why}");
        return;
    }
    let start = std::time::Instant::now();
    let out = run(&[
        "-c",
        "sleep 0.2",
        "-e",
        "probe timer.s(60) { } probe end { println(\"done\") }",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "done\n");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    let out = run(&["--sim", "-c", "true", "-e", "probe begin { exit() }"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("-c"));
}

#[test]
fn explain_verifier_reports_every_program() {
    let ex = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ticks.stp");
    let out = run(&["--explain-verifier", ex]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}{}", text(&out.stderr));
    for p in ["begin_0", "timer_1", "end_2"] {
        assert!(
            s.contains(&format!("({p}): accepted by the mini-verifier")),
            "{s}"
        );
    }
    assert!(s.contains("kernel: "), "{s}");
}

/// A verifier log from another tool is explained at the script line when the
/// object (with its line table) is given.
#[test]
fn explain_kernel_log_maps_instructions_to_script_lines() {
    let dir = std::env::temp_dir().join(format!("stapc-klog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("t.bo");
    let ex = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ticks.stp");
    assert!(run(&["-p4", "-o", obj.to_str().unwrap(), ex])
        .status
        .success());
    // The object's line table says which script line instruction 26 of the
    // timer program comes from; the log names that instruction.
    let o = stapc_bpf::elf::read(&std::fs::read(&obj).unwrap()).unwrap();
    let timer = o.programs.iter().find(|p| p.name == "timer_1").unwrap();
    let line = timer.line_of(26).unwrap().line;
    let log = dir.join("k.log");
    std::fs::write(
        &log,
        "libbpf: prog 'timer_1': BPF program load failed: Permission denied\n\
         0: R1=ctx() R10=fp0\n\
         26: (79) r1 = *(u64 *)(r7 +0)\n\
         R7 invalid mem access 'map_value_or_null'\n\
         processed 27 insns (limit 1000000) max_states_per_insn 0 total_states 2 peak_states 2 mark_read 1\n",
    )
    .unwrap();
    let out = run(&[
        "--explain-verifier",
        "--kernel-log",
        log.to_str().unwrap(),
        obj.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(s.contains("rejected probe timer.ms(100) (timer_1)"), "{s}");
    assert!(s.contains(&format!("ticks.stp:{line}:")), "{s}");
    assert!(s.contains("> 26:"), "{s}");
    assert!(s.contains("without checking it for NULL"), "{s}");
    // A log without a rejection, and a missing log.
    std::fs::write(&log, "processed 3 insns (limit 1000000)\n").unwrap();
    let out = run(&["--explain-verifier", "--kernel-log", log.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("no rejection found"));
    let out = run(&["--explain-verifier", "--kernel-log", "/nonexistent.log"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read verifier log"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bpf_verify_gives_a_verdict_per_program() {
    let bad = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/verifier_corpus/reject/array_const_key_null_old_kernel.asm"
    );
    let out = run(&[
        "bpf",
        "verify",
        "--prog-type",
        "kprobe",
        "--target-kernel",
        "6.1",
        bad,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("invalid mem access 'map_value_or_null'"));
    let dir = std::env::temp_dir().join(format!("stapc-bverify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("t.bo");
    let ex = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ticks.stp");
    assert!(run(&["-p4", "-o", obj.to_str().unwrap(), ex])
        .status
        .success());
    let out = run(&["bpf", "verify", obj.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).matches(": accepted").count(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `kernel.trace("syscalls:sys_exit_X")` is `syscall.X.return`'s tracepoint:
/// the same `$ret` and arguments.
#[test]
fn syscalls_tracepoints_have_the_syscall_fields() {
    let script = "probe kernel.trace(\"syscalls:sys_exit_read\") { if ($ret > 0) println($ret) }\n\
                  probe kernel.trace(\"syscalls:sys_enter_read\") { println($count) }";
    let out = run(&["-p4", "-o", "/dev/null", "-e", script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&[
        "-p2",
        "-e",
        "probe kernel.trace(\"syscalls:sys_enter_read\") { println($nosuch) }",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has no argument `nosuch`"),
        "{}",
        text(&out.stderr)
    );
}

/// A broken macro used many times once produced 120,000 diagnostics and
/// took seconds (found by the frontend fuzzer): expansion now stops after a
/// bounded number of errors.
#[test]
fn broken_macros_do_not_avalanche() {
    for name in ["regress_error_avalanche_1", "regress_error_avalanche_2"] {
        let path = format!("{}/fuzz/corpus/frontend/{name}", env!("CARGO_MANIFEST_DIR"));
        let out = run(&["-p2", &path]);
        assert_eq!(out.status.code(), Some(1));
        let errors = text(&out.stderr).matches("error[").count();
        assert!(errors > 0 && errors < 500, "{name}: {errors} errors");
        assert!(text(&out.stderr).contains("too many errors"), "{name}");
    }
}

/// A comparison against a constant string takes the constant itself
/// (`-p3`: `str_compare ss0, "…"`, no `str_const` temporary), in kernel and
/// userspace programs, with strcmp's answers.
#[test]
fn string_compares_against_constants_fold() {
    let script = r#"probe kernel.trace("sched:sched_switch") {
  e = execname()
  printf("%d%d%d %d%d%d %d%d\n", e == "stapc-sim", e < "stapc-sin", e > "stapc-sil",
         e == "stapc-simulator-long", e < "stapc-simulator-long", e > "", e != "", e == "stapc")
  exit()
}"#;
    let p3 = run(&["-p3", "-e", script]);
    assert!(p3.status.success(), "{}", text(&p3.stderr));
    let ir = text(&p3.stdout);
    assert!(
        ir.lines()
            .any(|l| l.contains("= str_compare ss") && l.contains(", \"stapc-sim\"")),
        "{ir}"
    );
    assert!(!ir.contains("str_const"), "{ir}");
    let out = run(&["--sim", "-e", script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "111 011 10\n");
    let begin = script.replace("kernel.trace(\"sched:sched_switch\")", "begin");
    let out = run(&["--sim", "-e", &begin]);
    assert_eq!(text(&out.stdout), "111 011 10\n", "{}", text(&out.stderr));
}

/// As with stap, options may follow the script; `--` ends them, and
/// negative numbers are arguments.
#[test]
fn options_may_follow_the_script() {
    let dir = std::env::temp_dir().join(format!("stapc-optorder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("args.stp");
    std::fs::write(
        &script,
        "probe begin { printf(\"%d %s %d\\n\", $1, @2, $#) }\n",
    )
    .unwrap();
    let s = script.to_str().unwrap();
    let out = run(&[s, "--sim", "-5", "x"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "-5 x 2\n");
    let out = run(&["--sim", s, "--", "7", "-v"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "7 -v 2\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `gettimeofday_*()` is the wall clock in every probe: kernel programs add
/// the offset userspace wrote to the control map to `ktime_get_ns()`; in
/// `--sim` both clocks start at 0.
#[test]
fn gettimeofday_is_the_wall_clock_everywhere() {
    let script = "probe begin { printf(\"%d\\n\", gettimeofday_ms()) }\n\
                  probe kernel.trace(\"sched:sched_switch\") { printf(\"%d %d\\n\", gettimeofday_ms(), gettimeofday_us()); exit() }";
    let out = run(&["--sim", "-e", script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0\n1 1000\n");
    if let Err(why) = stapc_loader::can_load_bpf() {
        eprintln!("skipped the kernel run: {why}");
        return;
    }
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    for target in ["6.18", "4.14"] {
        let before = now_ms();
        let out = run(&["--target-kernel", target, "-e", script]);
        let after = now_ms();
        assert!(out.status.success(), "{target}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let ms: Vec<i64> = stdout
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        assert_eq!(ms.len(), 3, "{stdout}");
        for t in [ms[0], ms[1], ms[2] / 1000] {
            assert!(
                before - 1000 <= t && t <= after + 1000,
                "{target}: {t} not in {before}..{after}"
            );
        }
    }
}
