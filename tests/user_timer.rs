//! Timers whose handlers need what only userspace programs do (`foreach`,
//! aggregates, `delete` of a whole array, string functions) run in stapc
//! itself: the same output in `--sim` and on the kernel.

mod common;

use common::{run, text};

const REPORT: &str = r#"global hits, sizes, ticks
probe begin { hits["b"] = 2; hits["a"] = 5; hits["c"] = 1; sizes <<< 10; sizes <<< 30 }
probe timer.ms(20) {
  ticks++
  foreach (k in hits- limit 2) printf("%d %s=%d\n", ticks, k, hits[k])
  printf("%d count=%d avg=%d %s\n", ticks, @count(sizes), @avg(sizes), substr(sprintf("%d-%d", @min(sizes), @max(sizes)), 0, 4))
  delete hits
  hits["z"] = ticks
  if (ticks == 2) exit()
}
probe end { printf("end %d\n", ticks) }
"#;

const EXPECTED: &str = "1 a=5\n1 b=2\n1 count=2 avg=20 10-3\n2 z=1\n2 count=2 avg=20 10-3\nend 2\n";

#[test]
fn the_compiler_moves_such_timers_to_userspace() {
    let out = run(&["-p3", "-e", REPORT]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ir = text(&out.stdout);
    assert!(
        ir.contains("function usertimer_1 {   ; probe timer.ms(20)  (stapc/timer)"),
        "{ir}"
    );
    // A timer that needs nothing of the kind stays a kernel program.
    let plain = text(&run(&["-p3", "-e", "probe timer.ms(20) { exit() }"]).stdout);
    assert!(plain.contains("(perf_event)"), "{plain}");
}

#[test]
fn sim_runs_them_on_their_period() {
    let out = run(&["--sim", "-e", REPORT]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), EXPECTED);
}

/// `timer.profile` runs on every CPU in the kernel, so its handler keeps the
/// kernel's limits: `foreach` there is still the clear E0900 error.
#[test]
fn profile_timers_stay_in_the_kernel() {
    let out = run(&[
        "-p4",
        "-o",
        "/dev/null",
        "-e",
        "global a\nprobe timer.profile { foreach (k in a) println(k) }",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("error[E0900]") && err.contains("`foreach`"),
        "{err}"
    );
}

#[test]
fn kernel_runs_them_with_the_kernel_programs() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        eprintln!("skipped: {why}");
        return;
    }
    let out = run(&["-e", REPORT]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), EXPECTED);
}

/// A timer may call a recursive function: the handler runs in stapc.
#[test]
fn recursion_in_a_timer_runs_in_stapc() {
    let script = "function fact(n) { return n <= 1 ? 1 : n * fact(n - 1) }\n\
                  probe timer.ms(10) { println(fact(10)); exit() }";
    let out = run(&["--sim", "-e", script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "3628800\n");
    // timer.profile runs in the kernel, which allows no recursion.
    let out = run(&[
        "-p2",
        "-e",
        &script.replace("timer.ms(10)", "timer.profile"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error[E0049]"),
        "{}",
        text(&out.stderr)
    );
}
