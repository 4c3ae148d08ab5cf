//! Statistics end to end: kernel probes add to per-CPU maps, userspace
//! merges the CPUs; the histograms the simulator prints equal SystemTap's
//! layout of the values computed independently here; kernel programs using
//! statistics pass the real verifier (old and new targets).

mod common;

use common::{run, text};
use stapc::{Options, Session, Stage};
use stapc_bpf::{KernelVersion, Target};
use stapc_sim::format;
use std::io::Write as _;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/stats_kernel.stp");

fn compile(text: &str, kernel: KernelVersion) -> stapc_bpf::Object {
    let opts = Options {
        target: Target::new(kernel),
        ..Options::default()
    };
    let mut s = Session::new("t.stp", text.to_string(), opts);
    match s.run(Stage::Compile) {
        Ok(out) => out.object.unwrap(),
        Err(_) => panic!("compile failed:\n{}", s.render_diagnostics()),
    }
}

fn log_hist(values: &[i64]) -> String {
    let mut c = vec![0u64; format::LOG_BUCKETS];
    for &v in values {
        c[format::log_bucket(v)] += 1;
    }
    format::hist_log(&c)
}

fn linear_hist(values: &[i64], start: i64, stop: i64, interval: i64) -> String {
    let mut c = vec![0u64; format::linear_buckets(start, stop, interval).unwrap()];
    for &v in values {
        c[format::linear_bucket(v, start, stop, interval)] += 1;
    }
    format::hist_linear(&c, start, interval)
}

#[test]
fn kernel_statistics_give_the_reference_histograms_in_sim() {
    let out = run(&["--sim", EXAMPLE]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    // timer.ms(1) adds n*n - 200 for n = 1..=40; timer.ms(25) prints after
    // the 25th value (same-instant events fire in script order).
    let values: Vec<i64> = (1..=40).map(|n| n * n - 200).collect();
    let sum: i64 = values.iter().sum();
    let mut want = linear_hist(&values[..25], 0, 1000, 100);
    want.push_str(&format!(
        "count=40 sum={sum} min=-199 max=1400 avg={}\n",
        sum / 40
    ));
    want.push_str(&log_hist(&values));
    want.push_str(&linear_hist(&values, 0, 1000, 100));
    assert_eq!(text(&out.stdout), want);
}

#[test]
fn statistics_merge_every_cpu() {
    let src = "global s\n\
               probe timer.profile { s <<< cpu() * 10 + 1 }\n\
               probe timer.ms(20) { exit() }\n\
               probe end { printf(\"%d %d %d %d %d\\n\", @count(s), @sum(s), @min(s), @max(s), @avg(s))\n\
               print(@hist_linear(s, 0, 30, 10)) }\n";
    let obj = compile(src, KernelVersion::new(6, 18));
    let opts = stapc_sim::SessionOptions {
        cpus: 4,
        ..Default::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = stapc_sim::run(&obj, &opts, &mut out, &mut err).unwrap();
    assert_eq!(status, 0, "{}", text(&err));
    let out = text(&out);
    let (first, hist) = out.split_once('\n').unwrap();
    let nums: Vec<i64> = first.split(' ').map(|x| x.parse().unwrap()).collect();
    let per_cpu = nums[0] / 4;
    assert!(per_cpu > 0 && nums[0] % 4 == 0, "{first}");
    assert_eq!(nums[1..], [per_cpu * 64, 1, 31, 16], "{first}");
    let values: Vec<i64> = (0..4)
        .flat_map(|c| std::iter::repeat_n(c * 10 + 1, per_cpu as usize))
        .collect();
    assert_eq!(hist, linear_hist(&values, 0, 30, 10));
}

#[test]
fn empty_statistics_and_delete() {
    let src = "global s\n\
               probe begin { s <<< 5; s <<< -7; printf(\"%d %d\\n\", @count(s), @avg(s)); delete s\n\
               printf(\"%d %d\\n\", @count(s), @sum(s)); @max(s) }\n";
    let out = run(&["--sim", "-e", src]);
    assert_eq!(text(&out.stdout), "2 -1\n0 0\n");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("ERROR: empty aggregate near operator '@max' at <input>:3:"),
        "{err}"
    );
}

#[test]
fn aggregates_in_kernel_probes_are_a_clear_error() {
    let out = run(&[
        "--sim",
        "-e",
        "global s\nprobe kernel.trace(\"sched:sched_switch\") { s <<< 1; printf(\"%d\\n\", @count(s)) }",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("@count in kernel probes"), "{err}");
    assert!(err.contains("begin, end and error"), "{err}");
    // The same handler on a timer runs in stapc, where it can read it.
    let out = run(&[
        "--sim",
        "-e",
        "global s\nprobe timer.ms(1) { s <<< 1; printf(\"%d\\n\", @count(s)); if (@count(s) == 3) exit() }",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1\n2\n3\n");
}

#[test]
fn kernel_verifier_accepts_statistics_programs() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        let _ = writeln!(std::io::stderr(), "stats: skipped kernel load: {why}");
        return;
    }
    let scripts = [
        std::fs::read_to_string(EXAMPLE).unwrap(),
        // Large linear bounds (64-bit constants), several statistics and
        // prints in one program, log and linear on one statistic.
        "global a, b, c\nprobe timer.ms(1) { x = ktime_get_ns()\n a <<< x; b <<< -x; c <<< x % 7\n\
         print(@hist_log(a)); print(@hist_linear(a, -10000000000, 10000000000, 100000000))\n\
         print(@hist_log(b)); print(@hist_linear(c, 0, 6, 1)) }\n\
         probe end { print(@hist_log(c)) }"
            .to_string(),
    ];
    for src in &scripts {
        for kernel in [KernelVersion::new(4, 14), KernelVersion::new(6, 18)] {
            let obj = compile(src, kernel);
            let kernel_progs = obj
                .programs
                .iter()
                .filter(|p| !p.kind.is_userspace())
                .count();
            assert!(kernel_progs > 0);
            match stapc_loader::load(&obj) {
                Ok(l) => assert!(!l.programs().is_empty()),
                Err(e) => panic!("target {kernel}: {e}\n{src}"),
            }
        }
    }
}

#[test]
fn mini_verifier_accepts_statistics_programs() {
    let conf = common::shared_dir().join("conformance");
    let scripts = [
        std::fs::read_to_string(EXAMPLE).unwrap(),
        std::fs::read_to_string(conf.join("stats.stp")).unwrap(),
        std::fs::read_to_string(conf.join("hist.stp")).unwrap(),
    ];
    for src in &scripts {
        for kernel in [KernelVersion::new(4, 14), KernelVersion::new(6, 18)] {
            let obj = compile(src, kernel);
            for (name, r) in stapc_sim::verifier::verify_object(&obj, &Target::new(kernel)) {
                if let Err(e) = r {
                    panic!("{name} (target {kernel}): {e}");
                }
            }
        }
    }
}

#[test]
fn kernel_run_prints_what_the_simulator_prints() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        let _ = writeln!(std::io::stderr(), "stats: skipped kernel run: {why}");
        return;
    }
    // A histogram printed from a kernel probe shows the statistic as it is
    // when userspace handles the record, which on a real kernel may be a few
    // events later; so only `end` prints here.
    let src = "global s, n\nprobe timer.ms(1) { n++; s <<< n * n - 200; if (n == 40) exit() }\n\
               probe end { printf(\"%d %d %d %d %d\\n\", @count(s), @sum(s), @min(s), @max(s), @avg(s))\n\
               print(@hist_log(s)); print(@hist_linear(s, 0, 1000, 100)) }\n";
    let sim = run(&["--sim", "-e", src]);
    assert!(sim.status.success(), "{}", text(&sim.stderr));
    assert!(text(&sim.stdout).starts_with("40 14140 -199 1400 353\n"));
    for kernel in ["4.14", "6.18"] {
        let out = run(&["--target-kernel", kernel, "-e", src]);
        assert!(out.status.success(), "{kernel}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), text(&sim.stdout), "target {kernel}");
    }
}

/// Arrays of statistics: kernel probes add to their elements (created on
/// the first `<<<`), userspace reads the aggregates, prints histograms of
/// elements, iterates sorted by key or by @count, tests and deletes.
const STAT_ARRAY: &str = r#"global lat, n
probe kernel.trace("sched:sched_switch") {
  n++
  lat[n % 3 == 0 ? "three" : "other", n % 2] <<< n
  if (n == 12) exit()
}
probe end {
  foreach ([name, odd] in lat-) printf("%s %d: %d %d %d %d %d\n", name, odd, @count(lat[name, odd]), @sum(lat[name, odd]), @min(lat[name, odd]), @max(lat[name, odd]), @avg(lat[name, odd]))
  foreach ([name, odd] in lat) n -= @count(lat[name, odd])
  printf("left %d\n", n)
  print(@hist_log(lat["other", 1]))
  if (["three", 0] in lat) delete lat["three", 0]
  printf("%d %d\n", ["three", 0] in lat, ["three", 1] in lat)
}
"#;

// n = 1..12: ("other", 1) holds 1 5 7 11, ("other", 0) 2 4 8 10, ("three", 0)
// 6 12, ("three", 1) 3 9; equal counts sort by key.
const STAT_ARRAY_OUT: &str = "other 0: 4 24 2 10 6\nother 1: 4 24 1 11 6\nthree 0: 2 18 6 12 9\nthree 1: 2 12 3 9 6\nleft 0\nvalue |-------------------------------------------------- count\n    0 |                                                   0\n    1 |@                                                  1\n    2 |                                                   0\n    4 |@@                                                 2\n    8 |@                                                  1\n   16 |                                                   0\n   32 |                                                   0\n\n0 1\n";

#[test]
fn arrays_of_statistics_in_sim() {
    let out = run(&["--sim", "-e", STAT_ARRAY]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), STAT_ARRAY_OUT);
    // A full array of statistics is SystemTap's overflow error.
    let out = run(&[
        "--sim",
        "-e",
        "global a[2], n\nprobe kernel.trace(\"sched:sched_switch\") { a[n++] <<< 1 }",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "ERROR: Array overflow, check MAXMAPENTRIES near identifier 'a' at <input>:2:"
        ),
        "{}",
        text(&out.stderr)
    );
}

/// On the kernel: `cat FILE` writes FILE's 6 bytes with one write(1, …).
#[test]
fn arrays_of_statistics_on_the_kernel() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        let _ = writeln!(std::io::stderr(), "stats: skipped kernel run: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("stapc-statarray-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("six.txt");
    std::fs::write(&file, "stapc\n").unwrap();
    let script = r#"global w
probe kernel.trace("syscalls:sys_enter_write") { if (pid() == target()) w[execname(), $fd] <<< $count }
probe end {
  foreach ([name, fd] in w-) printf("%s %d: %d %d %d %d\n", name, fd, @count(w[name, fd]), @sum(w[name, fd]), @min(w[name, fd]), @max(w[name, fd]))
  print(@hist_linear(w["cat", 1], 0, 10, 2))
}"#;
    for target in ["6.18", "4.14"] {
        let out = run(&[
            "--target-kernel",
            target,
            "-c",
            &format!("cat {}", file.display()),
            "-e",
            script,
        ]);
        assert!(out.status.success(), "{target}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains("cat 1: 1 6 6 6\n"), "{target}: {stdout}");
        assert!(stdout.contains("    6 |@ "), "{target}: {stdout}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A histogram shows the statistic as it was when `print` ran, even when
/// the handler changes or deletes it before its output is printed.
#[test]
fn histograms_are_taken_when_printed() {
    let out = run(&[
        "--sim",
        "-e",
        "global g, a\nprobe begin { g <<< 3; a[1] <<< 5; print(@hist_log(g)); print(@hist_log(a[1])); delete g; delete a; g <<< 100; print(@hist_log(g)) }",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    let hists: Vec<&str> = o.split("\n\n").filter(|h| !h.is_empty()).collect();
    assert_eq!(hists.len(), 3, "{o}");
    assert!(hists[0].contains("    2 |@ "), "{o}");
    assert!(hists[1].contains("    4 |@ "), "{o}");
    assert!(
        hists[2].contains("   64 |@ ") && !hists[2].contains("    2 |@"),
        "{o}"
    );
}
