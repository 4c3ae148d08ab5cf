//! Memory and register built-ins: `user_string`, `kernel_string`,
//! `user_long`/`user_int`, `kernel_long`/`kernel_int`, `int_arg(n)` and
//! friends, `returnval()`. In `--sim` the strings an events file gives are
//! the traced process's memory; on the kernel (when BPF can be loaded) an
//! openat of a file of our own is read back with `user_string`.

mod common;

use common::{run, text};
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stapc-memory-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const OPENAT: &str = "kernel.trace(\\\"syscalls:sys_enter_openat\\\")";

#[test]
fn sim_reads_strings_and_words_the_events_give() {
    let dir = scratch("sim");
    let ev = dir.join("ev.jsonl");
    std::fs::write(
        &ev,
        format!(
            "{{\"time\": \"1ms\", \"probe\": \"{OPENAT}\", \"pid\": 7, \"comm\": \"cat\", \"fields\": {{\"filename\": \"/etc/passwd\"}}}}\n\
             {{\"time\": \"2ms\", \"probe\": \"{OPENAT}\", \"fields\": {{\"filename\": \"{long}\"}}}}\n\
             {{\"time\": \"3ms\", \"probe\": \"{OPENAT}\", \"fields\": {{\"filename\": 12}}}}\n",
            long = "x".repeat(100)
        ),
    )
    .unwrap();
    let script = "probe kernel.trace(\"syscalls:sys_enter_openat\") {\n\
                  try {\n\
                    s = user_string($filename)\n\
                    printf(\"%d %s %s %d %d %d\\n\", pid(), execname(), s, strlen(s), user_int($filename), user_long($filename) & 0xffff)\n\
                  } catch (msg) { println(\"caught: \", msg) }\n\
                  }\n\
                  probe timer.ms(10) { exit() }";
    let out = run(&["--sim", "--sim-events", ev.to_str().unwrap(), "-e", script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // "/etc" as a little-endian int is 0x6374652f; 63 bytes of a 100-byte
    // string fit MAXSTRINGLEN 64; address 12 is not mapped.
    assert_eq!(
        text(&out.stdout),
        format!(
            "7 cat /etc/passwd 11 {} {}\n1000 stapc-sim {} 63 {} {}\n\
             caught: user string copy fault [man error::fault]\n",
            0x6374_652f,
            0x652f,
            "x".repeat(63),
            0x7878_7878,
            0x7878
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn uncaught_faults_end_the_session_at_the_call() {
    let out = run(&[
        "--sim",
        "-e",
        "probe kernel.trace(\"syscalls:sys_enter_read\") {\n  println(kernel_long($buf))\n}",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains(
            "ERROR: kernel long copy fault [man error::fault] near identifier 'kernel_long' at <input>:2:11"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn misplaced_uses_are_compile_errors_at_the_call() {
    for (script, want) in [
        (
            "probe begin { println(user_string(0)) }",
            "user_string() in begin/end/error probes",
        ),
        (
            "probe kernel.trace(\"syscalls:sys_enter_read\") { println(int_arg(1)) }",
            "int_arg() outside kernel.function and process.function probes",
        ),
        (
            "probe process(\"/bin/sh\").function(\"main\") { println(long_arg(pid() % 6 + 1)) }",
            "long_arg() of anything but a constant 1 to 6",
        ),
        (
            "probe process(\"/bin/sh\").function(\"main\") { println(long_arg(7)) }",
            "long_arg() of anything but a constant 1 to 6",
        ),
    ] {
        let out = run(&["-p4", "-o", "/dev/null", "-e", script]);
        assert_eq!(out.status.code(), Some(1), "{script}");
        assert!(
            text(&out.stderr).contains(want),
            "{script}: {}",
            text(&out.stderr)
        );
    }
}

/// Every stage shows the reads: `-p3` names the operation, `-d` the
/// kernel helper chosen for the target kernel.
#[test]
fn stages_print_the_reads_for_each_target() {
    let script = "probe kernel.trace(\"syscalls:sys_enter_openat\") { println(user_string($filename), kernel_int($filename)) }";
    let p3 = run(&["-p3", "-e", script]);
    assert!(p3.status.success(), "{}", text(&p3.stderr));
    let ir = text(&p3.stdout);
    assert!(ir.contains("probe_read.user.str"), "{ir}");
    assert!(ir.contains("probe_read.kernel "), "{ir}");
    // probe_read_user_str (114) and probe_read_kernel (113) from 5.5 on;
    // before, probe_read_str (45) and probe_read (4) read either.
    let new = text(&run(&["-d", "--target-kernel", "6.18", "-e", script]).stdout);
    assert!(
        new.contains("call 114\n") && new.contains("call 113\n"),
        "{new}"
    );
    let old = text(&run(&["-d", "--target-kernel", "4.14", "-e", script]).stdout);
    assert!(
        old.contains("call 45\n") && old.contains("call 4\n"),
        "{old}"
    );
    assert!(
        !old.contains("call 114\n") && !old.contains("call 113\n"),
        "{old}"
    );
}

/// On the kernel: `cat FILE` runs directly under `-c` (so `target()` is
/// cat), and its openat of FILE is read back from its memory.
#[test]
fn kernel_user_string_reads_the_opened_path() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = scratch("kernel");
    let file = dir.join("hello.txt");
    std::fs::write(&file, "hi\n").unwrap();
    let script = "probe kernel.trace(\"syscalls:sys_enter_openat\") {\n\
                  if (pid() == target()) {\n\
                    try { printf(\"%s %s\\n\", execname(), user_string($filename)) } catch { }\n\
                  }\n\
                  }";
    for target in ["6.18", "4.14"] {
        let cmd = format!("cat {}", file.display());
        let out = run(&["--target-kernel", target, "-c", &cmd, "-e", script]);
        assert!(out.status.success(), "{target}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("hi\n"),
            "{target}: the command's output: {stdout}"
        );
        assert!(
            stdout.contains(&format!("cat {}\n", file.display())),
            "{target}: {stdout}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// On the kernel, a uprobe on libc's `write`: the arguments and the return
/// value of `/bin/echo`'s one write.
#[test]
fn kernel_register_builtins_read_a_uprobes_arguments() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        eprintln!("skipped: {why}");
        return;
    }
    let Some(libc) = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists()) else {
        eprintln!("skipped: no x86-64 glibc at the usual paths");
        return;
    };
    let script = format!(
        "probe process(\"{libc}\").function(\"write\") {{ if (pid() == target()) printf(\"write(%d, %s, %d) %d\\n\", int_arg(1), user_string(pointer_arg(2)), ulong_arg(3), uint_arg(1)) }}\n\
         probe process(\"{libc}\").function(\"write\").return {{ if (pid() == target()) printf(\"= %d\\n\", returnval()) }}"
    );
    let out = run(&["-c", "/bin/echo stapc-uprobe", "-e", &script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // (echo's own output shares our stdout and may land between the lines.)
    assert!(
        stdout.contains("write(1, stapc-uprobe\n, 13) 1\n"),
        "{stdout}"
    );
    assert!(stdout.contains("= 13\n"), "{stdout}");
}

/// `substr` in kernel probes: one bounded `probe_read_kernel_str` (or
/// `probe_read_str` before 5.5) with SystemTap's clamping.
#[test]
fn kernel_substr_clamps_like_systemtap() {
    let dir = scratch("substr");
    let ev = dir.join("ev.jsonl");
    std::fs::write(
        &ev,
        format!(
            "{{\"time\": \"1ms\", \"probe\": \"{OPENAT}\", \"comm\": \"systemd-journal\"}}\n\
             {{\"time\": \"2ms\", \"probe\": \"{OPENAT}\", \"comm\": \"sh\"}}\n"
        ),
    )
    .unwrap();
    let script = "probe kernel.trace(\"syscalls:sys_enter_openat\") {\n\
                  e = execname()\n\
                  printf(\"[%s][%s][%s][%s][%s][%s]\\n\", substr(e, 0, 7), substr(e, 8, 100), substr(e, -1, 2), \
                  substr(e, 3, 0), substr(e, 62, 9), substr(substr(e, 1, 6), 2, 3))\n\
                  }\n\
                  probe timer.ms(5) { exit() }";
    for target in ["6.18", "4.14"] {
        let out = run(&[
            "--target-kernel",
            target,
            "--sim",
            "--sim-events",
            ev.to_str().unwrap(),
            "-e",
            script,
        ]);
        assert!(out.status.success(), "{target}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            "[systemd][journal][][][][tem]\n[sh][][][][][]\n",
            "{target}"
        );
    }
    if let Err(why) = stapc_loader::can_load_bpf() {
        eprintln!("skipped the kernel run: {why}");
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    }
    let file = dir.join("substr.txt");
    std::fs::write(&file, "x\n").unwrap();
    let path = file.display().to_string();
    // (A path in a page the task has not touched yet cannot be read from a
    // tracepoint: such faults are caught.)
    let script = "probe kernel.trace(\"syscalls:sys_enter_openat\") {\n\
                  if (pid() == target()) try { printf(\"%s|%s|%s\\n\", substr(execname(), 1, 2), substr(user_string($filename), 0, 8), substr(execname(), 9, 1)) } catch { }\n\
                  }";
    for target in ["6.18", "4.14"] {
        let out = run(&[
            "--target-kernel",
            target,
            "-c",
            &format!("cat {path}"),
            "-e",
            script,
        ]);
        assert!(out.status.success(), "{target}: {}", text(&out.stderr));
        let want = format!("at|{}|\n", &path[..8]);
        assert!(
            text(&out.stdout).contains(&want),
            "{target}: {}",
            text(&out.stdout)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
