//! The mini-verifier against the running kernel: every corpus program
//! (tests/verifier_corpus/), 200 generated valid-or-one-defect programs,
//! 1000 random ("wild") ones and 1000 index-bounding ones are verified by us for
//! the host kernel with root privileges and loaded into the kernel, and the
//! verdicts compared. We must never accept what the kernel rejects; the
//! test prints `verifier agreement: N of M` and each disagreement.
//!
//! Runs when the process can load BPF (root or CAP_BPF+CAP_PERFMON) and
//! prints why it skips otherwise.

use bpf::insn::{Insn, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE};
use bpf::{KernelVersion, Target};
use stapc_loader::{load_program, LoadError, Map, ProgramSpec};
use stapc_sim::verifier::corpus::{
    self, generate, generate_bounds, generate_wild, CorpusProgram, Defect,
};
use stapc_sim::verifier::{parse_kernel_log, verify, VerifyOptions};
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::path::Path;

fn corpus() -> Vec<CorpusProgram> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/verifier_corpus");
    let mut out = Vec::new();
    for sub in ["accept", "reject"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(sub))
            .expect("corpus directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "asm"))
            .collect();
        files.sort();
        for f in files {
            let name = format!(
                "{sub}/{}",
                f.file_name().unwrap_or_default().to_string_lossy()
            );
            let text = std::fs::read_to_string(&f).expect("corpus file");
            out.push(corpus::parse(&name, &text).expect("corpus parses"));
        }
    }
    for seed in 0..200u64 {
        let defect = (seed % 2 == 1).then(|| Defect::ALL[(seed / 2 % 4) as usize]);
        out.push(generate(seed, defect));
    }
    // Random programs with no promise of validity: most are rejected, and
    // the verdicts and messages must still agree.
    for seed in 0..1000u64 {
        out.push(generate_wild(seed));
    }
    // Index arithmetic, bounds checks and map-value accesses: about half
    // valid, decided by exactly what range tracking proves.
    for seed in 0..1000u64 {
        out.push(generate_bounds(seed));
    }
    out
}

enum KernelVerdict {
    Accept,
    Reject {
        message: String,
        insn: Option<usize>,
    },
    /// Not a verifier answer (the map could not be created, the loader
    /// refused the program before the kernel saw it).
    NotComparable(String),
}

fn kernel_verdict(p: &CorpusProgram) -> KernelVerdict {
    let mut maps = Vec::new();
    for m in &p.maps {
        match Map::create(m) {
            Ok(map) => maps.push(map),
            Err(e) => return KernelVerdict::NotComparable(format!("map {}: {e}", m.name)),
        }
    }
    // Map references by index become fds, as the loader does for objects
    // (including map-value addresses, which stapc's objects do not use).
    let mut insns: Vec<Insn> = p.insns.clone();
    let mut i = 0;
    while i + 1 < insns.len() {
        if insns[i].is_lddw() {
            if matches!(insns[i].src, BPF_PSEUDO_MAP_FD | BPF_PSEUDO_MAP_VALUE) {
                if let Some(m) = maps.get(insns[i].imm as usize) {
                    insns[i].imm = m.fd().as_raw_fd();
                }
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    let spec = ProgramSpec {
        name: "stapc_vtest",
        point: &p.name,
        prog_type: p.prog_type,
        expected_attach_type: 0,
        insns: &insns,
        license: "GPL",
        lines: None,
    };
    match load_program(&spec) {
        Ok(_fd) => KernelVerdict::Accept,
        Err(LoadError::Verifier { log, .. }) => {
            let r = parse_kernel_log(&log);
            match r.last() {
                Some(r) => KernelVerdict::Reject {
                    message: r.message.clone(),
                    insn: r.insn,
                },
                None => KernelVerdict::Reject {
                    message: LoadError::log_tail(&log, 3).join(" / "),
                    insn: None,
                },
            }
        }
        Err(LoadError::Rejected { source, .. }) => KernelVerdict::Reject {
            message: format!("no log: {source}"),
            insn: None,
        },
        Err(e) => KernelVerdict::NotComparable(e.to_string()),
    }
}

#[test]
fn mini_verifier_agrees_with_the_kernel() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        let _ = writeln!(std::io::stderr(), "verifier_kernel: skipped: {why}");
        return;
    }
    let Some(host) = KernelVersion::host() else {
        let _ = writeln!(
            std::io::stderr(),
            "verifier_kernel: skipped: unknown kernel version"
        );
        return;
    };
    let mut target = Target::new(host);
    target.privileged = true;
    let (mut agree, mut total, mut same_message, mut both_reject, mut same_insn) = (0, 0, 0, 0, 0);
    let mut unsafe_accepts = Vec::new();
    let mut notes = Vec::new();
    for p in corpus() {
        if p.userspace {
            // stapc runs these on the simulator, never in the kernel.
            continue;
        }
        let opts = VerifyOptions {
            target,
            prog_type: p.prog_type,
            userspace: false,
        };
        let ours = verify(&p.insns, &p.maps, &opts);
        let theirs = kernel_verdict(&p);
        if let KernelVerdict::NotComparable(why) = &theirs {
            notes.push(format!("{}: not compared: {why}", p.name));
            continue;
        }
        total += 1;
        match (&ours, &theirs) {
            (Ok(_), KernelVerdict::Accept) => agree += 1,
            (Err(e), KernelVerdict::Reject { message, insn }) => {
                agree += 1;
                both_reject += 1;
                let first = e.message.lines().next().unwrap_or("");
                if *insn == Some(e.insn) {
                    same_insn += 1;
                } else {
                    notes.push(format!(
                        "{}: both reject, the kernel's log names insn {:?}, ours {}",
                        p.name, insn, e.insn
                    ));
                }
                if message.contains(first) {
                    same_message += 1;
                } else {
                    notes.push(format!(
                        "{}: both reject; ours insn {}: `{}`, kernel insn {:?}: `{}`",
                        p.name, e.insn, e.message, insn, message
                    ));
                }
            }
            (Ok(_), KernelVerdict::Reject { message, insn }) => unsafe_accepts.push(format!(
                "{}: we accept, the kernel rejects at insn {:?}: {message}",
                p.name, insn
            )),
            (Err(e), _) => notes.push(format!(
                "{}: we reject (insn {}: {}), the kernel accepts",
                p.name, e.insn, e.message
            )),
            (Ok(_), KernelVerdict::NotComparable(_)) => {}
        }
    }
    let mut err = std::io::stderr();
    let _ = writeln!(err, "verifier agreement: {agree} of {total}");
    let _ = writeln!(
        err,
        "same first message line when both reject: {same_message} of {both_reject}, same instruction: {same_insn}"
    );
    for n in &notes {
        let _ = writeln!(err, "  {n}");
    }
    assert!(total >= 2200, "only {total} programs compared");
    assert!(
        unsafe_accepts.is_empty(),
        "accepted by the mini-verifier but rejected by the kernel:\n{}",
        unsafe_accepts.join("\n")
    );
}

/// The catalog (docs/verifier-messages.md) promises the kernel's own words:
/// every rejected corpus program whose message applies to the running kernel
/// (the mini-verifier, set to the host kernel, gives the expected message)
/// must get that message from the kernel too.
#[test]
fn catalog_messages_are_the_kernels() {
    if let Err(why) = stapc_loader::can_load_bpf() {
        let _ = writeln!(std::io::stderr(), "catalog: skipped: {why}");
        return;
    }
    let Some(host) = KernelVersion::host() else {
        let _ = writeln!(
            std::io::stderr(),
            "catalog: skipped: kernel version unknown"
        );
        return;
    };
    let mut target = Target::new(host);
    target.privileged = true;
    // Where the mini-verifier is knowingly stricter than this kernel (it
    // never accepts what the kernel rejects, the other way round is allowed).
    const STRICTER: &[(&str, &str)] = &[(
        "reject/deref_map_ptr.asm",
        "kernels with BTF let programs read struct bpf_map fields through a map pointer",
    )];
    let (mut checked, mut wrong) = (0, Vec::new());
    for p in corpus() {
        if STRICTER.iter().any(|(n, _)| *n == p.name) {
            continue;
        }
        let corpus::Expect::Reject(expect) = &p.expect else {
            continue;
        };
        if !p.name.starts_with("reject/") {
            continue;
        }
        let opts = VerifyOptions {
            target,
            prog_type: p.prog_type,
            userspace: p.userspace,
        };
        let Err(ours) = verify(&p.insns, &p.maps, &opts) else {
            continue;
        };
        if p.userspace || !ours.message.contains(expect.as_str()) {
            continue; // the message is for another kernel version or for userspace programs
        }
        match kernel_verdict(&p) {
            KernelVerdict::Reject { message, .. } if message.contains(expect.as_str()) => {
                checked += 1
            }
            KernelVerdict::NotComparable(_) => {}
            KernelVerdict::Reject { message, .. } => wrong.push(format!(
                "{}: expected `{expect}`, the kernel said `{message}`",
                p.name
            )),
            KernelVerdict::Accept => wrong.push(format!("{}: the kernel accepts it", p.name)),
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "catalog: {checked} messages confirmed by the kernel, {} differ",
        wrong.len()
    );
    assert!(checked >= 50, "only {checked} catalog messages checked");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
