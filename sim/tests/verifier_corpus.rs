//! Every program of tests/verifier_corpus/ gets the verdict its header asks
//! for: `accept/` programs verify, `reject/` programs are rejected with the
//! expected kernel message (and instruction, when given). Also checks that
//! docs/verifier-messages.md lists every reject program.

use stapc_sim::verifier::corpus::{self, CorpusProgram, Expect};
use stapc_sim::verifier::{verify, VerifyOptions};
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/verifier_corpus")
}

fn load(sub: &str) -> Vec<CorpusProgram> {
    let dir = corpus_dir().join(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "asm"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = format!(
                "{sub}/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            );
            let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{name}: {e}"));
            corpus::parse(&name, &text).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

fn check(p: &CorpusProgram) -> Result<(), String> {
    let opts = VerifyOptions {
        target: p.target,
        prog_type: p.prog_type,
        userspace: p.userspace,
    };
    let got = verify(&p.insns, &p.maps, &opts);
    match (&p.expect, got) {
        (Expect::Accept, Ok(_)) => Ok(()),
        (Expect::Accept, Err(e)) => Err(format!(
            "{}: expected accept, got rejection at insn {}: {}\n  {}",
            p.name, e.insn, e.message, e.state
        )),
        (Expect::Reject(m), Ok(_)) => Err(format!(
            "{}: expected rejection `{m}`, but it was accepted",
            p.name
        )),
        (Expect::Reject(m), Err(e)) => {
            if !e.message.contains(m.as_str()) {
                return Err(format!(
                    "{}: expected `{m}`, got insn {}: `{}`",
                    p.name, e.insn, e.message
                ));
            }
            if let Some(i) = p.insn {
                if i != e.insn {
                    return Err(format!(
                        "{}: expected insn {i}, got {} (`{}`)",
                        p.name, e.insn, e.message
                    ));
                }
            }
            if e.explanation.is_empty() || e.state.is_empty() {
                return Err(format!(
                    "{}: rejection without explanation or state",
                    p.name
                ));
            }
            Ok(())
        }
    }
}

#[test]
fn accepted_programs_verify() {
    let progs = load("accept");
    assert!(progs.len() >= 40, "only {} accept programs", progs.len());
    let fails: Vec<String> = progs.iter().filter_map(|p| check(p).err()).collect();
    assert!(
        fails.is_empty(),
        "{} of {} failed:\n{}",
        fails.len(),
        progs.len(),
        fails.join("\n")
    );
    assert!(progs.iter().all(|p| p.expect == Expect::Accept));
}

#[test]
fn rejected_programs_get_the_kernel_message() {
    let progs = load("reject");
    assert!(progs.len() >= 60, "only {} reject programs", progs.len());
    let fails: Vec<String> = progs.iter().filter_map(|p| check(p).err()).collect();
    assert!(
        fails.is_empty(),
        "{} of {} failed:\n{}",
        fails.len(),
        progs.len(),
        fails.join("\n")
    );
}

const CATALOG_INTRO: &str = "# Mini-verifier messages

Every message stapc's mini-verifier (`stapc_sim::verifier`) produces, with a
program that provokes it. The programs live in `tests/verifier_corpus/reject/`
(bpf_conformance assembly; `ldmap %rN, NAME` loads a map, `ldmapval` a map
value address, `.insn code, dst, src, off, imm` a raw slot; the `;` header
says the expected message, program type, kernel and privilege).
`sim/tests/verifier_corpus.rs` checks each program gets this message, and
generates this file (`BLESS=1 cargo test -p stapc-sim --test
verifier_corpus` rewrites it); the kernel comparison test loads each program
into the running kernel when the process can.

Conventions:

- The wording is the kernel's (`kernel/bpf/verifier.c`) for the target kernel
  version. Where the kernel changed its wording the target decides: type names
  are `scalar`, `ringbuf_mem` from 5.18 (before: `inv`, `mem`); stack bounds
  say `invalid write to stack R10 off=8 size=8` from 5.12 (before: `invalid
  stack off=8 size=8`); helper stack arguments say `invalid indirect read from
  stack R2 off -4+0 size 4` from 5.12 (before: without the register); a helper
  the program type may not call is `program of this type cannot use helper`
  from 6.0 (before: `unknown func`).
- Where the kernel prints two lines for one rejection (an out-of-range access,
  then which bound failed), the message has both, joined by a newline.
- \"root\" is `Target::privileged`: the kernel then lets programs read
  unwritten stack (6.3+; through helpers 5.8+), return, store and compare
  pointers, and subtract them. \"portable\" applies the stricter rules of older
  kernels and of unprivileged socket filters, which stapc's default target
  uses.
- Each rejection also carries the instruction index, the register state there
  in the kernel's log format (`R0=map_value_or_null(id=1,off=0,ks=4,vs=16)
  R10=fp0`), and the explanation quoted below.

Messages that are not the kernel's (the kernel gives no log for them):
`program of N instructions exceeds the limit of M` (the kernel refuses such
programs with E2BIG before verifying; see `sim/tests/verifier_props.rs`),
`program has no instructions`, and the `Unsupported` kind (BPF-to-BPF calls,
`bpf_loop`/`bpf_for_each_map_elem` callbacks, kfuncs), which stapc does not
emit and the mini-verifier does not model.
";

/// The catalog text: one section per error kind, one entry per program.
fn catalog() -> String {
    let mut entries: Vec<(String, String)> = Vec::new();
    for p in load("reject") {
        let opts = VerifyOptions {
            target: p.target,
            prog_type: p.prog_type,
            userspace: p.userspace,
        };
        let Err(e) = verify(&p.insns, &p.maps, &opts) else {
            continue;
        };
        let file = p.name.trim_start_matches("reject/").to_string();
        let mut text = String::new();
        for (k, line) in e.message.lines().enumerate() {
            if k == 0 {
                text.push_str(&format!("- `{line}`"));
            } else {
                text.push_str(&format!(" / `{line}`"));
            }
        }
        text.push_str(&format!(
            "\n  — [{file}](../tests/verifier_corpus/reject/{file}), {:?}, kernel {}{}{}, insn {}.\n  {}\n",
            p.prog_type,
            p.target.kernel,
            if p.target.privileged { ", root" } else { ", portable" },
            if p.userspace { ", userspace" } else { "" },
            e.insn,
            e.explanation
        ));
        entries.push((format!("{:?}", e.kind), text));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = CATALOG_INTRO.to_string();
    let mut last = String::new();
    for (kind, text) in entries {
        if kind != last {
            out.push_str(&format!("\n## {kind}\n\n"));
            last = kind;
        }
        out.push_str(&text);
    }
    out
}

#[test]
fn catalog_lists_every_reject_program() {
    let path = corpus_dir().join("../../docs/verifier-messages.md");
    let want = catalog();
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &want).expect("write docs/verifier-messages.md");
    }
    let doc = std::fs::read_to_string(&path).expect("docs/verifier-messages.md");
    assert!(
        doc == want,
        "docs/verifier-messages.md is out of date; rerun with BLESS=1"
    );
    for p in load("reject") {
        let file = p.name.trim_start_matches("reject/");
        assert!(doc.contains(file), "{file} is not in the catalog");
    }
}
