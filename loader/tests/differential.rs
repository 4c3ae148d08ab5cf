//! Differential test of the simulator against the running kernel: random
//! programs from `stapc_sim::testgen` (ALU64/ALU32 with signed division and
//! modulo, sign-extending moves, byte swaps, stack loads and stores,
//! forward JMP/JMP32 jumps on every condition) run on the simulator and, as
//! sleepable `syscall` programs through `BPF_PROG_TEST_RUN`, in the kernel;
//! the ten registers and the folded r0 must agree bit for bit.
//!
//! It lives here rather than in sim/ because the loader depends on sim.
//! Programs are loaded in batches (one kernel program calling up to 200 of
//! them as subprograms, each dumping into its own slice of the context) so
//! 10,000 programs take seconds. When the kernel rejects a batch it is split
//! until the rejected program is alone, and that rejection is a failure.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use stapc_bpf::disasm::disasm_program;
use stapc_bpf::ProgramType;
use stapc_loader::{can_load_bpf, load_program, test_run_syscall, LoadError, ProgramSpec};
use stapc_sim::testgen::{self, RandomProgram, DUMP_SIZE};
use stapc_sim::{Machine, MachineOptions, SimMaps};
use std::os::fd::AsFd;
use std::time::Instant;

/// Programs per test run.
const PROGRAMS: usize = 10_000;
/// Programs per kernel load.
const BATCH: usize = 200;

/// Run `programs` in the kernel; `Ok` holds one dump per program, `Err`
/// the verifier's answer when the batch does not load.
fn kernel_batch(programs: &[RandomProgram]) -> Result<Vec<[u64; 11]>, LoadError> {
    let (insns, ctx_size) = testgen::batch(programs);
    let fd = load_program(&ProgramSpec {
        name: "stapc_diff",
        point: "differential",
        prog_type: ProgramType::Syscall,
        expected_attach_type: 0,
        insns: &insns,
        license: "GPL",
        lines: None,
    })?;
    let mut ctx = vec![0u8; ctx_size];
    if let Err(e) = test_run_syscall(fd.as_fd(), &mut ctx) {
        panic!("BPF_PROG_TEST_RUN of a loaded batch: {e}");
    }
    Ok(ctx.chunks(DUMP_SIZE).map(testgen::dump_words).collect())
}

/// Where a program went wrong.
enum Failure {
    Rejected(LoadError),
    Sim(stapc_sim::ExecError),
    Mismatch { sim: [u64; 11], kernel: [u64; 11] },
}

/// Run `programs` (starting at index `first`) in the kernel, splitting
/// rejected batches; every dump or rejection goes into `results`.
fn kernel_all(
    programs: &[RandomProgram],
    first: usize,
    results: &mut Vec<(usize, Result<[u64; 11], LoadError>)>,
    loads: &mut usize,
) {
    *loads += 1;
    match kernel_batch(programs) {
        Ok(dumps) => {
            for (i, d) in dumps.into_iter().enumerate() {
                results.push((first + i, Ok(d)));
            }
        }
        Err(e) if programs.len() == 1 => results.push((first, Err(e))),
        Err(_) => {
            let half = programs.len() / 2;
            kernel_all(&programs[..half], first, results, loads);
            kernel_all(&programs[half..], first + half, results, loads);
        }
    }
}

fn regs(words: &[u64; 11]) -> String {
    let mut s = String::new();
    for (i, w) in words.iter().enumerate() {
        let name = if i == 10 {
            "fold".to_string()
        } else {
            format!("r{i}")
        };
        s.push_str(&format!("  {name:>4} = {w:#018x}\n"));
    }
    s
}

#[test]
fn simulator_matches_the_kernel_on_random_programs() {
    if let Err(why) = can_load_bpf() {
        eprintln!("skipping simulator_matches_the_kernel_on_random_programs: {why}");
        return;
    }
    let start = Instant::now();
    let mut runner = TestRunner::default();
    let strategy = testgen::strategy();
    let programs: Vec<RandomProgram> = (0..PROGRAMS)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("the strategy never rejects")
                .current()
        })
        .collect();

    let mut machine = Machine::new(
        Box::new(SimMaps::new(&[], 1).expect("no maps")),
        MachineOptions::default(),
    );
    let sim: Vec<_> = programs
        .iter()
        .map(|p| testgen::run_on_sim(&mut machine, p))
        .collect();
    let sim_time = start.elapsed();

    let mut kernel = Vec::with_capacity(PROGRAMS);
    let mut loads = 0;
    for (b, chunk) in programs.chunks(BATCH).enumerate() {
        kernel_all(chunk, b * BATCH, &mut kernel, &mut loads);
    }
    kernel.sort_by_key(|(i, _)| *i);

    let mut failures = Vec::new();
    for ((i, k), s) in kernel.into_iter().zip(sim) {
        let failure = match (k, s) {
            (Err(e), _) => Failure::Rejected(e),
            (_, Err(e)) => Failure::Sim(e),
            (Ok(kernel), Ok(sim)) if kernel != sim => Failure::Mismatch { sim, kernel },
            _ => continue,
        };
        failures.push((i, failure));
    }
    let instructions: usize = programs.iter().map(|p| p.insns(0).len()).sum();
    println!(
        "differential: {PROGRAMS} programs ({instructions} instructions) in {:.2?} \
         (simulator {sim_time:.2?}, {loads} kernel loads); {} failed",
        start.elapsed(),
        failures.len()
    );
    let mut report = String::new();
    for (i, f) in failures.iter().take(5) {
        let text = disasm_program(&programs[*i].insns(0));
        match f {
            Failure::Rejected(e) => report.push_str(&format!(
                "program {i}: the kernel rejects it: {e}\n{text}\n"
            )),
            Failure::Sim(e) => report.push_str(&format!(
                "program {i}: the kernel runs it, the simulator fails: {e}\n{text}\n"
            )),
            Failure::Mismatch { sim, kernel } => report.push_str(&format!(
                "program {i}: registers differ\n{text}simulator:\n{}kernel:\n{}\n",
                regs(sim),
                regs(kernel)
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {PROGRAMS} programs failed; the first ones:\n{report}",
        failures.len()
    );
}
