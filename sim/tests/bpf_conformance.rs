//! The public bpf_conformance suite on the simulator: every `tests/*.data`
//! program must exit with its expected r0; every `negative/*.data` must fail
//! (be rejected by the reader or assembler, fault when run, or give a result
//! other than the one it claims).

use bpf::conformance::{default_data_dir, parse_data, read_suite};
use stapc_sim::{Code, Machine, MachineOptions, SimMaps};
use std::io::Write as _;

fn machine() -> Machine {
    let opts = MachineOptions {
        fuel: 1_000_000,
        conformance: true,
        ..MachineOptions::default()
    };
    Machine::new(Box::new(SimMaps::new(&[], 1).expect("no maps")), opts)
}

/// Run one positive test; `Err` describes the failure.
fn positive(text: &str) -> Result<(), String> {
    let f = parse_data(text).map_err(|e| format!("reader: {e}"))?;
    let prog = f.program().map_err(|e| format!("assembler: {e}"))?;
    let want = f.result.ok_or("no result")?;
    let mem = (!f.mem.is_empty()).then_some(&f.mem[..]);
    let got = machine()
        .run_with_memory(&Code::new(&prog), mem)
        .map_err(|e| format!("run: {e}"))?;
    if got.r0 != want {
        return Err(format!("r0 = {:#x}, expected {want:#x}", got.r0));
    }
    Ok(())
}

/// Run one negative test; `Ok(why)` when it failed as it must.
fn negative(text: &str) -> Result<String, String> {
    let f = match parse_data(text) {
        Ok(f) => f,
        Err(e) => return Ok(format!("reader: {e}")),
    };
    let prog = match f.program() {
        Ok(p) => p,
        Err(e) => return Ok(format!("assembler: {e}")),
    };
    let mem = (!f.mem.is_empty()).then_some(&f.mem[..]);
    match machine().run_with_memory(&Code::new(&prog), mem) {
        Err(e) => Ok(format!("run: {e}")),
        Ok(o) if f.result.is_some_and(|r| r != o.r0) => Ok(format!(
            "r0 = {:#x}, not {:#x}",
            o.r0,
            f.result.unwrap_or(0)
        )),
        Ok(o) => Err(format!("ran to r0 = {:#x} without an error", o.r0)),
    }
}

#[test]
fn bpf_conformance_suite() {
    let dir = default_data_dir().expect("bpf_conformance data (shared/bpf_conformance) not found");
    let tests = read_suite(&dir, "tests").expect("tests/");
    let negatives = read_suite(&dir, "negative").expect("negative/");
    assert!(
        tests.len() >= 300 && negatives.len() >= 50,
        "suite incomplete"
    );
    let mut failures = Vec::new();
    for (name, text) in &tests {
        if let Err(e) = positive(text) {
            failures.push(format!("tests/{name}: {e}"));
        }
    }
    for (name, text) in &negatives {
        if let Err(e) = negative(text) {
            failures.push(format!("negative/{name}: {e}"));
        }
    }
    let total = tests.len() + negatives.len();
    // To the stderr handle itself, so the summary shows despite the
    // harness capturing println!.
    let _ = writeln!(
        std::io::stderr(),
        "bpf_conformance: {} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "bpf_conformance failures:\n{}",
        failures.join("\n")
    );
}
