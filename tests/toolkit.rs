//! `stapc bpf asm|disasm|run`: assemble the conformance syntax to an object
//! or raw instructions, disassemble them back, run them on the simulator,
//! and report bad input with the file, the line and status 1.

mod common;

use common::{shared_dir, stapc, text};
use std::path::{Path, PathBuf};

/// What one invocation printed.
struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Whether the stapc binary routes `bpf` to the toolkit (main.rs wires it).
fn binary_has_bpf() -> bool {
    let o = stapc()
        .args(["bpf", "--help"])
        .output()
        .expect("the stapc binary runs");
    text(&o.stdout).contains("Assemble, disassemble and run BPF programs")
}

/// `stapc bpf ARGS…` through the binary; until main.rs routes `bpf` to the
/// toolkit, through `stapc::toolkit::bpf_command` in this process.
fn bpf(args: &[&str]) -> Out {
    if binary_has_bpf() {
        let o = stapc()
            .arg("bpf")
            .args(args)
            .output()
            .expect("the stapc binary runs");
        return Out {
            status: o.status.code().unwrap_or(-1),
            stdout: text(&o.stdout),
            stderr: text(&o.stderr),
        };
    }
    eprintln!(
        "note: the stapc binary does not route `bpf` yet; calling stapc::toolkit::bpf_command"
    );
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = stapc::toolkit::bpf_command(&args, &mut out, &mut err);
    Out {
        status,
        stdout: text(&out),
        stderr: text(&err),
    }
}

/// A scratch directory of its own for each test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stapc-toolkit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn write(dir: &Path, name: &str, body: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write");
    p.display().to_string()
}

const SUM: &str = "\
# r0 = 1 + 2 + ... + 10
mov %r0, 0
mov %r1, 10
loop:
add %r0, %r1
sub %r1, 1
jne %r1, 0, loop
exit
";

#[test]
fn asm_then_run_then_disasm_an_object() {
    let d = scratch("object");
    let src = write(&d, "sum.s", SUM.as_bytes());
    let o = bpf(&["asm", &src]);
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    let obj = d.join("sum.bo").display().to_string();
    let bytes = std::fs::read(&obj).expect("sum.bo written");
    assert!(bytes.starts_with(b"\x7fELF"));
    let o = bpf(&["run", &obj]);
    assert_eq!((o.status, o.stdout.as_str()), (0, "0x37\n"), "{}", o.stderr);
    let o = bpf(&["disasm", &obj]);
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "sum (stapc/begin):\n   0: r0 = 0\n   1: r1 = 10\n   2: r0 += r1\n   3: r1 -= 1\n   4: if r1 != 0 goto -3\n   5: exit\n"
    );
}

#[test]
fn raw_output_round_trips() {
    let d = scratch("raw");
    let src = write(&d, "sum.s", SUM.as_bytes());
    let out = d.join("sum.raw").display().to_string();
    let o = bpf(&["asm", &src, "-o", &out, "--raw"]);
    assert_eq!(o.status, 0, "{}", o.stderr);
    let bytes = std::fs::read(&out).expect("raw written");
    assert_eq!(bytes.len(), 6 * 8);
    assert_eq!(&bytes[..8], &[0xb7, 0, 0, 0, 0, 0, 0, 0]);
    let o = bpf(&["run", &out]);
    assert_eq!(o.stdout, "0x37\n");
    let o = bpf(&["disasm", &out]);
    assert_eq!(o.stdout.lines().count(), 6, "{}", o.stdout);
    assert!(o.stdout.ends_with("   5: exit\n"), "{}", o.stdout);
}

#[test]
fn run_uses_mem_for_r1_and_r2() {
    let d = scratch("mem");
    let src = write(&d, "m.s", b"ldxh %r0, [%r1+1]\nadd %r0, %r2\nexit\n");
    let o = bpf(&["run", &src, "--mem", "00 34 12 ff"]);
    // A plain assembly file must be assembled first.
    assert_eq!(o.status, 1);
    assert!(o.stderr.contains("m.s"), "{}", o.stderr);
    let raw = d.join("m.bin").display().to_string();
    assert_eq!(bpf(&["asm", &src, "--raw"]).status, 0);
    let o = bpf(&["run", &raw, "--mem", "00 34 12 ff"]);
    assert_eq!(
        (o.status, o.stdout.as_str()),
        (0, "0x1238\n"),
        "{}",
        o.stderr
    );
    let o = bpf(&["run", &raw, "--mem", "0x00341200"]);
    assert_eq!(o.stdout, "0x1238\n");
    let o = bpf(&["run", &raw, "--mem", "0g"]);
    assert_eq!(o.status, 1);
    assert!(o.stderr.contains("--mem"), "{}", o.stderr);
}

#[test]
fn conformance_data_files_run_and_check_their_result() {
    let dir = shared_dir().join("bpf_conformance/tests");
    for name in [
        "add.data",
        "ldxh.data",
        "le16.data",
        "call_unwind_fail.data",
    ] {
        let f = dir.join(name);
        let data = std::fs::read_to_string(&f).expect("suite file");
        let want = data
            .lines()
            .skip_while(|l| l.trim() != "-- result")
            .nth(1)
            .expect("a result")
            .trim()
            .to_lowercase();
        let o = bpf(&["run", &f.display().to_string()]);
        assert_eq!(o.status, 0, "{name}: {}", o.stderr);
        let got = u64::from_str_radix(o.stdout.trim().trim_start_matches("0x"), 16).expect("hex");
        let want = u64::from_str_radix(want.trim_start_matches("0x"), 16).expect("hex result");
        assert_eq!(got, want, "{name}");
    }
    // A .data file whose result is wrong fails with status 1.
    let d = scratch("data");
    let f = write(
        &d,
        "wrong.data",
        b"-- asm\nmov %r0, 3\nexit\n-- result\n0x4\n",
    );
    let o = bpf(&["run", &f]);
    assert_eq!((o.status, o.stdout.as_str()), (1, "0x3\n"));
    assert!(o.stderr.contains("expects 0x4"), "{}", o.stderr);
    // asm accepts the .data file's program.
    assert_eq!(bpf(&["asm", &f]).status, 0);
    assert_eq!(
        bpf(&["run", &d.join("wrong.bo").display().to_string()]).stdout,
        "0x3\n"
    );
}

#[test]
fn errors_name_the_file_and_line() {
    let d = scratch("errors");
    let bad = write(&d, "bad.s", b"mov %r0, 1\n\nfrob %r0\nexit\n");
    let o = bpf(&["asm", &bad]);
    assert_eq!(o.status, 1);
    assert!(o.stderr.starts_with("stapc: "), "{}", o.stderr);
    assert!(o.stderr.contains(&format!("{bad}:3:")), "{}", o.stderr);
    // In a .data file, lines count from the top of the file.
    let bad = write(
        &d,
        "bad.data",
        b"# comment\n-- asm\nmov %r0, 1\nfrob\nexit\n",
    );
    let o = bpf(&["asm", &bad]);
    assert!(o.stderr.contains(&format!("{bad}:4:")), "{}", o.stderr);
    let odd = write(&d, "odd.bin", &[0xb7, 0, 0]);
    let o = bpf(&["disasm", &odd]);
    assert_eq!(o.status, 1);
    assert!(
        o.stderr.contains("odd.bin") && o.stderr.contains("multiple of 8"),
        "{}",
        o.stderr
    );
    let fake = write(&d, "fake.bo", b"\x7fELF garbage");
    let o = bpf(&["disasm", &fake]);
    assert_eq!(o.status, 1);
    assert!(o.stderr.contains("fake.bo"), "{}", o.stderr);
    let o = bpf(&["run", &d.join("missing.bin").display().to_string()]);
    assert_eq!(o.status, 1);
    assert!(o.stderr.contains("missing.bin"), "{}", o.stderr);
    // A program that faults: the instruction is named.
    let fault = write(
        &d,
        "fault.bin",
        &[0x79, 0x10, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    );
    let o = bpf(&["run", &fault]);
    assert_eq!(o.status, 1);
    assert!(o.stderr.contains("insn 0"), "{}", o.stderr);
    // Bad usage.
    assert_ne!(bpf(&["frob"]).status, 0);
    assert_ne!(bpf(&["asm"]).status, 0);
}
