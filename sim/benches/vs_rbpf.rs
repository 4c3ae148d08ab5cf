//! The simulator's interpreter against rbpf's on the same bytecode, in the
//! same run: an arithmetic loop, a memory-heavy (stack) loop and a
//! helper-call-heavy loop (`get_prandom_u32`, registered in rbpf with the
//! simulator's own generator, so both compute the same r0). Prints
//! instructions per second and the ratio; when this process can load BPF,
//! also the kernel JIT's speed on the same programs (socket filters run
//! through `BPF_PROG_TEST_RUN` with `repeat`).
//!
//! `cargo bench -p stapc-sim --bench vs_rbpf` (`-- --quick` for a short
//! run, `-- NAME` for the programs whose name contains NAME).

use bpf::insn::*;
use bpf::{Insn, ProgramType};
use stapc_sim::{Code, Machine, MachineOptions, SimMaps};
use std::cell::Cell;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// Loop trips per run: small enough for the kernel verifier to walk every
/// iteration (it must, to accept a bounded loop), large enough that one run
/// dwarfs the per-run setup of each engine.
const TRIPS: i32 = 20_000;

/// Seed of the simulator's `get_prandom_u32` (the machine's default).
const SEED: u64 = 0x5eed_57a9 | 1;

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(SEED) };
}

/// rbpf's copy of the simulator's `get_prandom_u32` (xorshift64*).
fn prandom(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32 as u64
    })
}

fn arithmetic() -> Vec<Insn> {
    vec![
        Insn::mov64_imm(0, 0),
        Insn::mov64_imm(1, TRIPS),
        Insn::mov64_imm(2, 1),
        // loop:
        Insn::alu64_reg(BPF_ADD, 0, 1),
        Insn::alu64_reg(BPF_XOR, 0, 2),
        Insn::alu64_imm(BPF_MUL, 2, 3),
        Insn::alu64_reg(BPF_SUB, 0, 2),
        Insn::mov64_reg(3, 0),
        Insn::alu64_imm(BPF_RSH, 3, 3),
        Insn::alu64_reg(BPF_ADD, 0, 3),
        Insn::alu32_imm(BPF_ADD, 3, 7),
        Insn::alu64_reg(BPF_OR, 0, 3),
        Insn::alu64_imm(BPF_AND, 0, 0x7fff_ffff),
        Insn::alu64_imm(BPF_SUB, 1, 1),
        Insn::jmp_imm(BPF_JNE, 1, 0, -12),
        Insn::exit(),
    ]
}

fn memory() -> Vec<Insn> {
    let mut p = vec![Insn::mov64_imm(1, TRIPS)];
    for s in 1..=8 {
        p.push(Insn::st(BPF_DW, 10, -8 * s, s as i32));
    }
    let body = [
        Insn::ldx(BPF_DW, 2, 10, -8),
        Insn::alu64_reg(BPF_ADD, 2, 1),
        Insn::stx(BPF_DW, 10, 2, -16),
        Insn::ldx(BPF_DW, 3, 10, -16),
        Insn::ldx(BPF_W, 4, 10, -24),
        Insn::alu64_reg(BPF_XOR, 3, 4),
        Insn::stx(BPF_DW, 10, 3, -24),
        Insn::ldx(BPF_B, 5, 10, -32),
        Insn::alu64_reg(BPF_ADD, 5, 3),
        Insn::stx(BPF_H, 10, 5, -40),
        Insn::ldx(BPF_DW, 4, 10, -40),
        Insn::stx(BPF_DW, 10, 4, -8),
        Insn::stx(BPF_W, 10, 5, -48),
        Insn::alu64_imm(BPF_SUB, 1, 1),
    ];
    p.extend_from_slice(&body);
    p.push(Insn::jmp_imm(BPF_JNE, 1, 0, -(body.len() as i16) - 1));
    p.push(Insn::ldx(BPF_DW, 0, 10, -24));
    p.push(Insn::exit());
    p
}

fn helpers() -> Vec<Insn> {
    vec![
        Insn::mov64_imm(6, 0),
        Insn::mov64_imm(7, TRIPS),
        // loop:
        Insn::call(bpf::helpers::GET_PRANDOM_U32),
        Insn::alu64_reg(BPF_ADD, 6, 0),
        Insn::alu64_imm(BPF_SUB, 7, 1),
        Insn::jmp_imm(BPF_JNE, 7, 0, -4),
        Insn::mov64_reg(0, 6),
        Insn::exit(),
    ]
}

/// Run `f` repeatedly for about `budget`; returns the best runs per
/// second over a few slices of it (other processes on the machine only ever
/// slow a slice down).
fn rate(budget: Duration, mut f: impl FnMut() -> u64) -> f64 {
    let _ = f(); // warm-up
    let slice = budget / 5;
    let mut best = 0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let mut runs = 0u64;
        while start.elapsed() < slice {
            for _ in 0..4 {
                std::hint::black_box(f());
            }
            runs += 4;
        }
        best = best.max(runs as f64 / start.elapsed().as_secs_f64());
    }
    best
}

fn mips(insns: u64, runs_per_second: f64) -> f64 {
    insns as f64 * runs_per_second / 1e6
}

/// The kernel JIT's nanoseconds per run, or why it could not be measured.
fn kernel(insns: &[Insn]) -> Result<f64, String> {
    let fd = stapc_loader::load_program(&stapc_loader::ProgramSpec {
        name: "stapc_bench",
        point: "bench",
        prog_type: ProgramType::SocketFilter,
        expected_attach_type: 0,
        insns,
        license: "GPL",
        lines: None,
    })
    .map_err(|e| e.to_string())?;
    // A socket filter's test run needs at least an Ethernet header of data.
    let packet = [0u8; 64];
    let r = stapc_loader::test_run_repeat(fd.as_fd(), &packet, 2000).map_err(|e| e.to_string())?;
    Ok(r.duration_ns as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    // Other words select programs by name (cargo bench passes `--bench`).
    let only: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let budget = Duration::from_millis(if quick { 200 } else { 2000 });
    let kernel_ok = stapc_loader::can_load_bpf();
    if let Err(why) = &kernel_ok {
        println!("kernel JIT: skipped ({why})");
    }
    println!(
        "{:<10} {:>8} {:>12} {:>12} {:>7} {:>12} {:>9}",
        "program", "insns", "sim Minsn/s", "rbpf Minsn/s", "ratio", "JIT Minsn/s", "JIT/sim"
    );
    for (name, prog) in [
        ("arith", arithmetic()),
        ("memory", memory()),
        ("helpers", helpers()),
    ] {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let mut m = Machine::new(
            Box::new(SimMaps::new(&[], 1).expect("no maps")),
            MachineOptions {
                fuel: u64::MAX,
                ..MachineOptions::default()
            },
        );
        let code = Code::new(&prog);
        let executed = m
            .run_with_memory(&code, None)
            .expect("the benchmark program runs")
            .executed;
        let bytes = bpf::insn::encode_all(&prog);
        let mut vm = rbpf::EbpfVmNoData::new(Some(&bytes)).expect("rbpf accepts the program");
        vm.register_helper(bpf::helpers::GET_PRANDOM_U32 as u32, prandom)
            .expect("helper registered");

        // Same results first: both machines must compute the same thing.
        let mut check = Machine::new(
            Box::new(SimMaps::new(&[], 1).expect("no maps")),
            MachineOptions {
                fuel: u64::MAX,
                ..MachineOptions::default()
            },
        );
        RNG.with(|r| r.set(SEED));
        let sim_r0 = check.run_with_memory(&code, None).expect("runs").r0;
        let rbpf_r0 = vm.execute_program().expect("rbpf runs it");
        assert_eq!(sim_r0, rbpf_r0, "{name}: the simulator and rbpf disagree");

        // Interleaved halves, so a busy moment hits both engines alike.
        let (mut sim, mut rb) = (0f64, 0f64);
        for _ in 0..2 {
            sim = sim.max(mips(
                executed,
                rate(budget / 2, || {
                    m.run_with_memory(&code, None).map(|o| o.r0).unwrap_or(0)
                }),
            ));
            rb = rb.max(mips(
                executed,
                rate(budget / 2, || vm.execute_program().unwrap_or(0)),
            ));
        }
        let jit = match &kernel_ok {
            Ok(()) => match kernel(&prog) {
                Ok(ns) if ns > 0.0 => {
                    let j = executed as f64 / ns * 1e3;
                    format!("{j:>12.0} {:>8.1}x", j / sim)
                }
                Ok(_) => format!("{:>12} {:>9}", "(0 ns)", "-"),
                Err(e) => format!("  (kernel: {e})"),
            },
            Err(_) => format!("{:>12} {:>9}", "-", "-"),
        };
        println!(
            "{name:<10} {executed:>8} {sim:>12.0} {rb:>12.0} {:>6.2}x {jit}",
            sim / rb
        );
    }
}
