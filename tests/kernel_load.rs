//! Every kernel program of every script stapc compiles (the conformance
//! scripts and the examples) is loaded into the running kernel, and the
//! kernel's verifier must accept it — for the default target and for an old
//! one (4.14: no ring buffer, no ISA v4). Runs when the process may load BPF;
//! prints why it skips otherwise.

mod common;

use stapc::{Options, Session, Stage};
use stapc_bpf::{KernelVersion, Target};
use std::io::Write as _;

fn scripts() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(common::shared_dir().join("conformance"))
        .unwrap()
        .chain(std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).unwrap())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "stp"))
        .collect();
    v.sort();
    v
}

#[test]
fn kernel_verifier_accepts_every_compiled_program() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        let _ = writeln!(std::io::stderr(), "kernel_load: skipped: {why}");
        return;
    }
    let mut loaded = 0;
    let mut failures = Vec::new();
    for path in scripts() {
        let text = std::fs::read_to_string(&path).unwrap();
        for kernel in [KernelVersion::new(4, 14), KernelVersion::new(6, 18)] {
            let opts = Options {
                target: Target::new(kernel),
                ..Options::default()
            };
            let mut s = Session::new(path.to_str().unwrap(), text.clone(), opts);
            // Scripts that do not compile (errors by design, or features not
            // yet supported) are the conformance test's business.
            let Ok(out) = s.run(Stage::Compile) else {
                continue;
            };
            let obj = out.object.unwrap();
            match stapc_loader::load(&obj) {
                Ok(l) => loaded += l.programs().len(),
                Err(e) => failures.push(format!("{} (target {kernel}): {e}", path.display())),
            }
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "kernel_load: {loaded} programs accepted by the kernel"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(loaded > 0, "no kernel program was loaded");
}

// ---- functions/strings ----

/// Kernel probes using the context and string built-ins kernel programs
/// have (strlen, target, randint, jiffies on 5.5+) pass the real verifier.
#[test]
fn kernel_verifier_accepts_context_and_string_builtins() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        let _ = writeln!(std::io::stderr(), "kernel_load: skipped: {why}");
        return;
    }
    let common = r#"global n
probe timer.ms(10), kernel.trace("syscalls:sys_enter_openat") {
  s = execname() . "-x"
  n += strlen(s) + strlen(execname()) + strlen("")
  if (pid() == target()) printf("%s %d %d\n", s, strlen(s), randint(10))
}
probe syscall.write { n += $count + $fd }
probe kernel.function("vfs_read") { n += $count }
probe kernel.function("vfs_read").return { n += $return }
"#;
    let jiffies = "probe timer.ms(10) { printf(\"%d %d\\n\", jiffies(), target()) }\n";
    let mut loaded = 0;
    for (kernel, text) in [
        (KernelVersion::new(4, 14), common.to_string()),
        (KernelVersion::new(6, 18), format!("{common}{jiffies}")),
    ] {
        let opts = Options {
            target: Target::new(kernel),
            ..Options::default()
        };
        let mut s = Session::new("builtins.stp", text, opts);
        let Ok(out) = s.run(Stage::Compile) else {
            panic!("target {kernel}: {:#?}", s.diagnostics);
        };
        let obj = out.object.unwrap();
        match stapc_loader::load(&obj) {
            Ok(l) => loaded += l.programs().len(),
            Err(e) => panic!("target {kernel}: {e}"),
        }
    }
    // 5 probes on 4.14, 6 on 6.18 (jiffies).
    assert_eq!(loaded, 11);
}
