//! Associative arrays end to end: a kernel probe using every array
//! operation runs in `--sim` and, where the process may load BPF, passes the
//! real verifier for an old (4.14: keys copied to the stack) and a new
//! target; updates of a full array are SystemTap's runtime error; what
//! kernel probes cannot do (foreach, delete of a whole array) is a compile
//! error that says why.

mod common;

use common::{run, text};
use stapc::{Options, Session, Stage};
use stapc_bpf::{KernelVersion, Target};
use std::io::Write as _;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/arrays_kernel.stp");

#[test]
fn kernel_probe_arrays_run_in_sim_on_every_target() {
    for kernel in ["4.14", "6.18"] {
        let out = run(&["--sim", "--target-kernel", kernel, EXAMPLE]);
        assert!(out.status.success(), "stderr: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "1000: 21\nt 0 = x\nseen=21\n");
    }
}

#[test]
fn kernel_probe_arrays_pass_the_kernel_verifier() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        let _ = writeln!(std::io::stderr(), "arrays: kernel load skipped: {why}");
        return;
    }
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    for kernel in [KernelVersion::new(4, 14), KernelVersion::new(6, 18)] {
        let opts = Options {
            target: Target::new(kernel),
            ..Options::default()
        };
        let mut s = Session::new(EXAMPLE, text.clone(), opts);
        let Ok(out) = s.run(Stage::Compile) else {
            panic!("target {kernel}: the example does not compile");
        };
        let obj = out.object.unwrap();
        assert!(!obj.arrays.is_empty());
        let loaded = stapc_loader::load(&obj).unwrap_or_else(|e| panic!("target {kernel}: {e}"));
        assert!(!loaded.programs().is_empty());
    }
}

#[test]
fn full_array_is_a_runtime_error() {
    let script = "global a[2]\nprobe begin { a[1] = 1; a[2] = 2; a[2] += 5\n\
                  try { a[3] = 3 } catch (m) { println(\"caught: \", m) }\n\
                  foreach (v = [k] in a-) printf(\"%d=%d\\n\", k, v)\n  a[9]++ }\n";
    let out = run(&["--sim", "-e", script]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "caught: Array overflow, check MAXMAPENTRIES\n2=7\n1=1\n"
    );
    assert!(
        text(&out.stderr).contains(
            "ERROR: Array overflow, check MAXMAPENTRIES near identifier 'a' at <input>:5:3"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn strings_multiple_keys_and_sorting() {
    let script = r#"global s, m
probe begin {
  s["x"] .= "ab"; s["x"] .= "cd"; s["y"] = "b"
  m["b", 2] = 5; m["a", 9] = 5; m["b", 1] = 7; m["a", 1] = 1
  foreach ([k, n] in m+ limit 3) printf("%s %d %d\n", k, n, m[k, n])
  foreach ([k, n-] in m) printf("%d ", n)
  println("")
  foreach (v = [k] in s-) printf("%s=%s\n", k, v)
  if (["a", 9] in m && !(["a", 2] in m)) println("in")
  delete m["a", 9]
  delete s
  n = 0
  foreach ([k, i] in m) n++
  foreach (k in s) n += 100
  printf("%d %s|\n", n, s["x"])
}
"#;
    let out = run(&["--sim", "-e", script]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "a 1 1\na 9 5\nb 2 5\n9 2 1 1 \ny=b\nx=abcd\nin\n3 |\n"
    );
}

/// (A `timer.ms` handler like this one runs in stapc instead: tests/user_timer.rs.)
#[test]
fn foreach_and_clear_in_kernel_probes_are_errors_that_say_why() {
    let out = run(&[
        "-p4",
        "-o",
        "/dev/null",
        "-e",
        "global a\nprobe kernel.trace(\"sched:sched_switch\") { a[1] = 2; foreach (k in a) println(k); delete a }",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bpf_for_each_map_elem"), "{err}");
    assert!(
        err.contains("`delete` of a whole array in a kernel probe"),
        "{err}"
    );
}

#[test]
fn the_mini_verifier_accepts_every_array_program() {
    // (Userspace loops whose state changes every iteration, like the
    // counters of conformance/arrays.stp, exceed the mini-verifier's path
    // exploration whatever they loop over; the example's loops do not.)
    for path in [std::path::PathBuf::from(EXAMPLE)] {
        let text = std::fs::read_to_string(&path).unwrap();
        for kernel in [KernelVersion::new(4, 14), KernelVersion::new(6, 18)] {
            let target = Target::new(kernel);
            let opts = Options {
                target,
                ..Options::default()
            };
            let mut s = Session::new(path.to_str().unwrap(), text.clone(), opts);
            let Ok(out) = s.run(Stage::Compile) else {
                panic!("{}: does not compile", path.display());
            };
            let obj = out.object.unwrap();
            for (name, r) in stapc_sim::verifier::verify_object(&obj, &target) {
                assert!(
                    r.is_ok(),
                    "{} {name} (target {kernel}): {:?}",
                    path.display(),
                    r.err()
                );
            }
        }
    }
}

#[test]
fn maxmapentries_sizes_arrays_declared_without_a_size() {
    let script = "global a, b[5]\nprobe begin { a[1] = 1; a[2] = 2; b[1] = 1; b[2] = 2; b[3] = 3; a[3] = 3 }";
    let out = run(&["-D", "MAXMAPENTRIES=2", "--sim", "-e", script]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("Array overflow, check MAXMAPENTRIES near identifier 'a' at <input>:2:"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["--sim", "-e", script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["-D", "MAXMAPENTRIES=0", "--sim", "-e", script]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("MAXMAPENTRIES must be between"));
}

/// Arrays' maps come after the statistics' maps: both work in one script,
/// in the simulator and in the kernel's verifier.
#[test]
fn arrays_and_statistics_share_a_script() {
    let script = "global s, a, t\nprobe timer.ms(1) { s <<< 5; a[cpu()] += 1; t <<< 2; if (a[0] >= 3) exit() }\nprobe end { printf(\"%d %d %d\\n\", @count(s), a[0], @sum(t)); foreach (k in a) println(k) }\n";
    let out = run(&["--sim", "-e", script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "3 3 6\n0\n");
    if let Err(why) = stapc_loader::can_load_bpf() {
        let _ = writeln!(std::io::stderr(), "arrays: kernel load skipped: {why}");
        return;
    }
    for kernel in [KernelVersion::new(4, 14), KernelVersion::new(6, 18)] {
        let opts = Options {
            target: Target::new(kernel),
            ..Options::default()
        };
        let mut s = Session::new("<input>", script.to_string(), opts);
        let Ok(out) = s.run(Stage::Compile) else {
            panic!("target {kernel}: does not compile");
        };
        let obj = out.object.unwrap();
        assert_eq!(obj.arrays[0].map as usize, 4 + obj.stats.len());
        stapc_loader::load(&obj).unwrap_or_else(|e| panic!("target {kernel}: {e}"));
    }
}
