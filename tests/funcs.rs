//! Recursive script functions, string built-ins, sprintf and the context
//! built-ins, run end to end with `stapc --sim` (the conformance scripts
//! cover the common cases; these cover limits and errors).

mod common;

use common::{run, text};

const DEPTH: &str = r#"function down(n) { if (n <= 0) return 0; return 1 + down(n - 1) }
global g
function ev(n) { g++; if (n == 0) return 1; return od(n - 1) }
function od(n) { if (n == 0) return 0; return ev(n - 1) }
probe begin { printf("%d %d %d g=%d\n", down(31), ev(10), od(7), g); printf("%d\n", down(40)); println("after") }
probe end { println("end") }
probe error { println("error probe") }
"#;

#[test]
fn recursion_is_bounded_by_maxnesting() {
    // Default MAXNESTING is 32: down(31) makes 32 nested calls, down(40) 41.
    let out = run(&["--sim", "-e", DEPTH]);
    assert_eq!(text(&out.stdout), "31 1 1 g=10\nerror probe\n");
    assert!(
        text(&out.stderr).contains("ERROR: MAXNESTING exceeded near identifier 'down'"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["--sim", "-D", "MAXNESTING=100", "-e", DEPTH]);
    assert_eq!(text(&out.stdout), "31 1 1 g=10\n40\nafter\nend\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn an_error_inside_a_recursive_call_ends_the_handler() {
    let src = r#"function boom(n) { if (n == 0) return 10 / n; return boom(n - 1) }
probe begin { println("x"); printf("%d\n", boom(3)); println("not reached") }"#;
    let out = run(&["--sim", "-e", src]);
    assert_eq!(text(&out.stdout), "x\n");
    assert!(text(&out.stderr).contains("ERROR: division by 0"));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_kernel_probe_calling_a_recursive_function_is_refused() {
    let src = r#"function f(n) { if (n == 0) return 0; return f(n - 1) }
probe kernel.trace("sched:sched_switch") { printf("%d\n", f(3)); exit() }"#;
    let out = run(&["--sim", "-e", src]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("recursive function `f`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn string_builtin_edge_cases() {
    let src = r#"probe begin {
  printf("[%s][%s][%s]\n", substr("abc", 3, 1), substr("abc", -1, 2), substr("abc", 0, 0))
  printf("%d %d %d\n", strtol("0x1f", 0), strtol("017", 0), strtol("12zz", 10))
  printf("%s|%s\n", text_str("a\tb\"c"), str_replace("aaa", "aa", "b"))
  printf("%d %d\n", isinstr("", ""), strlen(sprint(12345)))
  printf("%d\n", strtol("1", 1))
}"#;
    let out = run(&["--sim", "-e", src]);
    assert_eq!(text(&out.stdout), "[][][]\n31 15 12\na\\tb\\\"c|ba\n1 5\n");
    assert!(
        text(&out.stderr).contains("ERROR: strtol: invalid base"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn context_builtins_in_the_simulator() {
    let src = r#"probe begin { printf("%d %d %d %d %d\n", target(), ppid(), euid(), gettimeofday_s(), jiffies()) }
probe timer.ms(8) { printf("%d %d %d\n", jiffies(), target(), randint(1)); exit() }"#;
    let out = run(&["--sim", "-x", "77", "-e", src]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Simulated wall clock starts at the Unix epoch; HZ is 250.
    assert_eq!(text(&out.stdout), "77 1 0 0 0\n2 77 0\n");
    let out = run(&["--sim", "-e", "probe begin { println(randint(0)) }"]);
    assert!(text(&out.stderr).contains("randint: range must be 1 to 1048576"));
}

/// The simulator's mini-verifier accepts what this feature emits: the
/// stapc helpers in userspace programs, strlen, target(), randint() and
/// jiffies() in kernel ones. (It does not model BPF-to-BPF calls, so
/// programs calling recursive functions are left out.)
#[test]
fn mini_verifier_accepts_the_feature_programs() {
    use stapc::{Options, Session, Stage};
    use stapc_bpf::{KernelVersion, Target};
    let shared = common::shared_dir().join("conformance");
    let mut scripts: Vec<(String, String)> = ["strings", "printf_formats", "target_pid"]
        .iter()
        .map(|n| {
            let p = shared.join(format!("{n}.stp"));
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    let ex = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/context_strings.stp");
    scripts.push((ex.to_string(), std::fs::read_to_string(ex).unwrap()));
    scripts.push((
        "k.stp".into(),
        "probe timer.ms(10) { printf(\"%d %d %d\\n\", jiffies(), strlen(execname()), randint(5)) }"
            .into(),
    ));
    for (name, text) in scripts {
        let target = Target::new(KernelVersion::new(6, 18));
        let opts = Options {
            target,
            ..Options::default()
        };
        let mut s = Session::new(&name, text, opts);
        let Ok(out) = s.run(Stage::Compile) else {
            panic!("{name}: {:#?}", s.diagnostics);
        };
        let obj = out.object.unwrap();
        for (prog, r) in stapc_sim::verifier::verify_object(&obj, &target) {
            assert!(r.is_ok(), "{name} {prog}: {r:?}");
        }
    }
}

#[test]
fn target_variables_read_the_event_context() {
    let dir = std::env::temp_dir().join(format!("stapc-funcs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let events = dir.join("ev.jsonl");
    std::fs::write(
        &events,
        "{\"time\": \"5ms\", \"probe\": \"kernel.function(\\\"vfs_read\\\")\", \"args\": [3, 4096, -7]}\n\
         {\"time\": \"6ms\", \"probe\": \"kernel.function(\\\"vfs_read\\\").return\", \"return\": -2}\n",
    )
    .unwrap();
    let src = r#"probe kernel.function("vfs_read") { printf("%d %d\n", $file, $count) }
probe kernel.function("vfs_read").return { printf("ret %d\n", $return); exit() }"#;
    let out = run(&["--sim", "--sim-events", events.to_str().unwrap(), "-e", src]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "3 -7\nret -2\n");
    // Without events every field and argument is 0.
    let out = run(&[
        "--sim",
        "-e",
        "probe syscall.write { printf(\"%d\\n\", $count); exit() }",
    ]);
    assert_eq!(text(&out.stdout), "0\n");
    // begin has no context.
    let out = run(&["--sim", "-e", "probe begin { println($count) }"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_recursive_call_as_a_statement_runs_for_its_output() {
    let src = r#"function f(n) { if (n == 0) return 0; printf("%s %d\n", pp(), n); return f(n - 1) }
probe begin { f(2) }"#;
    for kernel in ["6.18", "4.14"] {
        let out = run(&["--sim", "--target-kernel", kernel, "-e", src]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "begin 2\nbegin 1\n", "target {kernel}");
    }
}

#[test]
fn string_locals_of_recursive_functions_are_per_call() {
    let src = r#"function f(n) { s = sprint(n); t = "<" . s . ">"; if (n == 0) return 0; r = f(n - 1); printf("%s %s %d %s\n", s, t, r, sprint(n * 10)); return r + 1 }
probe begin { printf("%d\n", f(3)); println(sprintf("%d", f(1))) }"#;
    let out = run(&["--sim", "-e", src]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "1 <1> 0 10\n2 <2> 1 20\n3 <3> 2 30\n3\n1 <1> 0 10\n1\n"
    );
    // String parameters cannot be passed (yet): a clear error.
    let out = run(&[
        "--sim",
        "-e",
        "function g(s:string, n) { if (n == 0) return 0; return g(s, n - 1) }\nprobe begin { println(g(\"a\", 2)) }",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("string parameters or results of recursive functions"),
        "{}",
        text(&out.stderr)
    );
}

/// Programs calling recursive functions are "not modelled" for the
/// mini-verifier (never a false rejection in the pipeline).
#[test]
fn mini_verifier_says_it_does_not_model_subprograms() {
    use stapc::{Options, Session, Stage};
    use stapc_bpf::{KernelVersion, Target};
    let p = common::shared_dir().join("conformance/functions.stp");
    let target = Target::new(KernelVersion::new(6, 18));
    let opts = Options {
        target,
        ..Options::default()
    };
    let mut s = Session::new(
        p.to_str().unwrap(),
        std::fs::read_to_string(&p).unwrap(),
        opts,
    );
    let Ok(out) = s.run(Stage::Compile) else {
        panic!("{:#?}", s.diagnostics);
    };
    let obj = out.object.unwrap();
    let verdicts = stapc_sim::verifier::verify_object(&obj, &target);
    let (_, r) = &verdicts[0];
    let e = r.as_ref().expect_err("has a BPF-to-BPF call");
    assert_eq!(e.kind, stapc_sim::verifier::VerifierErrorKind::Unsupported);
}
