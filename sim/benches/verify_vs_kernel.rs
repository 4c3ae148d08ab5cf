//! Benchmark: stapc's mini-verifier against the kernel's own verifier on the
//! same programs, in the same run. The kernel's time is what it reports at
//! log level 4 (`verification time N usec`); ours is measured around
//! `verifier::verify` (the mean of several runs per program). Programs: the
//! accepted half of tests/verifier_corpus and generated valid programs.
//! Without the privilege to load BPF, only our times are printed.
//!
//! Run with `cargo bench -p stapc-sim --bench verify_vs_kernel`.

use bpf::insn::{Insn, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE};
use stapc_sim::verifier::{self, corpus, corpus::CorpusProgram, VerifyOptions};
use std::os::fd::AsRawFd;
use std::time::Instant;

fn programs() -> Vec<CorpusProgram> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/verifier_corpus/accept"
    );
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/verifier_corpus/accept exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "asm"))
        .collect();
    files.sort();
    let mut v: Vec<CorpusProgram> = files
        .iter()
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?;
            corpus::parse(name, &std::fs::read_to_string(p).ok()?).ok()
        })
        .collect();
    v.extend((0..300).map(|seed| corpus::generate(seed, None)));
    v
}

/// Our time for one program, in microseconds (mean of `reps` runs).
fn ours(p: &CorpusProgram, reps: u32) -> Option<f64> {
    let opts = VerifyOptions {
        target: p.target,
        prog_type: p.prog_type,
        userspace: p.userspace,
    };
    verifier::verify(&p.insns, &p.maps, &opts).ok()?;
    let t = Instant::now();
    for _ in 0..reps {
        let _ = std::hint::black_box(verifier::verify(&p.insns, &p.maps, &opts));
    }
    Some(t.elapsed().as_secs_f64() * 1e6 / reps as f64)
}

/// The kernel's reported verification time, in microseconds.
fn kernel(p: &CorpusProgram) -> Option<u64> {
    let maps: Vec<_> = p
        .maps
        .iter()
        .map(stapc_loader::Map::create)
        .collect::<Result<_, _>>()
        .ok()?;
    let mut insns: Vec<Insn> = p.insns.clone();
    let mut i = 0;
    while i + 1 < insns.len() {
        if insns[i].is_lddw() {
            if matches!(insns[i].src, BPF_PSEUDO_MAP_FD | BPF_PSEUDO_MAP_VALUE) {
                insns[i].imm = maps.get(insns[i].imm as usize)?.fd().as_raw_fd();
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    let spec = stapc_loader::ProgramSpec {
        name: "stapc_vbench",
        point: &p.name,
        prog_type: p.prog_type,
        expected_attach_type: 0,
        insns: &insns,
        license: "GPL",
        lines: None,
    };
    let (_fd, log) = stapc_loader::load_program_with_stats(&spec).ok()?;
    stapc_loader::verification_time_usec(&log)
}

fn main() {
    let progs = programs();
    let kernel_ok = stapc_loader::can_load_bpf();
    let (mut ours_total, mut kernel_total, mut n, mut insns) = (0.0, 0.0, 0, 0);
    for p in &progs {
        let Some(t) = ours(p, 20) else { continue };
        if kernel_ok.is_ok() {
            let Some(k) = kernel(p) else { continue };
            kernel_total += k as f64;
        }
        ours_total += t;
        insns += p.insns.len();
        n += 1;
    }
    println!("verify_vs_kernel: {n} programs, {insns} instructions");
    println!(
        "  mini-verifier: {ours_total:.0} us in all, {:.2} us per program",
        ours_total / n.max(1) as f64
    );
    match kernel_ok {
        Ok(()) => {
            println!(
                "  kernel:        {kernel_total:.0} us in all, {:.2} us per program",
                kernel_total / n.max(1) as f64
            );
            println!(
                "  ratio: the mini-verifier takes {:.2}x the kernel's time",
                ours_total / kernel_total.max(1.0)
            );
        }
        Err(why) => println!("  kernel: not measured ({why})"),
    }
}
