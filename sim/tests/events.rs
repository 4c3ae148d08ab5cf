//! `--sim-events`: events from a file replace the every-1 ms default for
//! the probes they name, carry their task, CPU, arguments and return value
//! into the program, and leave timers and other probes alone.

mod common;

use bpf::insn::*;
use bpf::{ArgKind, Insn, ProbeKind};
use common::builder::*;
use stapc_sim::events::{PT_REGS_ARGS, PT_REGS_RC};
use stapc_sim::{parse_events, run, SessionOptions, SimError};

fn go(obj: &bpf::Object, events: &str, duration_ms: u64) -> Result<(i32, String), SimError> {
    let opts = SessionOptions {
        duration_ns: duration_ms * 1_000_000,
        events: Some(parse_events(events).expect("events parse")),
        ..SessionOptions::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = run(obj, &opts, &mut out, &mut err)?;
    Ok((status, String::from_utf8(out).expect("utf-8")))
}

fn kprobe(function: &str, ret: bool) -> ProbeKind {
    ProbeKind::Kprobe {
        function: function.into(),
        ret,
    }
}

/// A kprobe printing time (ms), pid, tid, cpu, $arg1, $arg2, $return.
fn script() -> ObjBuilder {
    let mut o = ObjBuilder::new(true);
    let f = o.format(
        "%s t=%d pid=%d tid=%d cpu=%d a1=%d a2=%d ret=%d\n",
        &[
            ArgKind::Str,
            ArgKind::Long,
            ArgKind::Long,
            ArgKind::Long,
            ArgKind::Long,
            ArgKind::Long,
            ArgKind::Long,
            ArgKind::Long,
        ],
    );
    let tick = o.format("tick t=%d\n", &[ArgKind::Long]);
    o.program(kprobe("vfs_read", false), |b| {
        b.i(Insn::call(bpf::helpers::KTIME_GET_NS))
            .i(Insn::alu64_imm(BPF_DIV, 0, 1_000_000))
            .i(Insn::stx(BPF_DW, 10, 0, -8));
        b.i(Insn::call(bpf::helpers::GET_CURRENT_PID_TGID))
            .i(Insn::stx(BPF_DW, 10, 0, -16));
        b.i(Insn::call(bpf::helpers::GET_SMP_PROCESSOR_ID))
            .i(Insn::stx(BPF_DW, 10, 0, -24));
        b.i(Insn::ldx(BPF_DW, 1, 10, -8))
            .i(Insn::ldx(BPF_DW, 2, 10, -16))
            .i(Insn::alu64_imm(BPF_RSH, 2, 32))
            .i(Insn::ldx(BPF_W, 3, 10, -16))
            .i(Insn::ldx(BPF_DW, 4, 10, -24))
            .i(Insn::ldx(BPF_DW, 5, CTX, PT_REGS_ARGS[0] as i16));
        // The builder's printf takes registers for arguments; spill two.
        b.i(Insn::stx(BPF_DW, 10, 5, -32))
            .i(Insn::ldx(BPF_DW, 5, CTX, PT_REGS_ARGS[1] as i16))
            .i(Insn::stx(BPF_DW, 10, 5, -40))
            .i(Insn::ldx(BPF_DW, 5, CTX, PT_REGS_RC as i16))
            .i(Insn::stx(BPF_DW, 10, 5, -48));
        b.i(Insn::ldx(BPF_DW, 0, 10, -32))
            .i(Insn::ldx(BPF_DW, 5, 10, -40))
            .i(Insn::ldx(BPF_DW, CTL, 10, -48));
        b.printf(
            f,
            &[
                A::Str(b"read"),
                A::Reg(1),
                A::Reg(2),
                A::Reg(3),
                A::Reg(4),
                A::Reg(0),
                A::Reg(5),
                A::Reg(CTL),
            ],
        );
    });
    o.program(timer_ms(4), |b| {
        b.i(Insn::call(bpf::helpers::KTIME_GET_NS))
            .i(Insn::alu64_imm(BPF_DIV, 0, 1_000_000))
            .i(Insn::mov64_reg(1, 0));
        b.printf(tick, &[A::Reg(1)]);
    });
    o.obj.programs[0].point = "kernel.function(\"vfs_read\")".into();
    o.obj.programs[1].point = "timer.ms(4)".into();
    o
}

#[test]
fn events_replace_the_default_source_and_carry_their_values() {
    let o = script();
    let events = r#"
{"time": "3ms", "probe": "kernel.function(\"vfs_read\")", "pid": 42, "cpu": 1, "args": [7, -2], "return": 5}
{"time": 1000000, "probe": "prog_0", "tid": 9}
{"time": "4ms", "probe": "kernel.function(\"vfs_read\")"}
{"time": "3ms", "probe": "prog_0", "pid": 1, "tid": 2}
"#;
    let (status, out) = go(&o.obj, events, 9).expect("runs");
    assert_eq!(status, 0);
    assert_eq!(
        out,
        "read t=1 pid=1000 tid=9 cpu=0 a1=0 a2=0 ret=0\n\
         read t=3 pid=42 tid=42 cpu=1 a1=7 a2=-2 ret=5\n\
         read t=3 pid=1 tid=2 cpu=0 a1=0 a2=0 ret=0\n\
         read t=4 pid=1000 tid=1000 cpu=0 a1=0 a2=0 ret=0\n\
         tick t=4\n\
         tick t=8\n"
    );
}

#[test]
fn probes_without_events_keep_firing_every_millisecond() {
    let o = script();
    // Only the timer is named: it fires once more; the kprobe keeps its 1 ms.
    let (_, out) = go(&o.obj, r#"{"time": "2500us", "probe": "timer.ms(4)"}"#, 4).expect("runs");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("read")).count(),
        4,
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("tick"))
            .collect::<Vec<_>>(),
        ["tick t=2", "tick t=4"]
    );
}

#[test]
fn events_after_the_duration_do_not_fire_and_unknown_probes_are_errors() {
    let o = script();
    let (_, out) = go(&o.obj, r#"{"time": "20ms", "probe": "prog_0"}"#, 3).expect("runs");
    assert_eq!(out, "");
    let e = go(&o.obj, "\n\n{\"time\": 1, \"probe\": \"nope\"}", 3).expect_err("unknown probe");
    assert!(
        e.to_string()
            .starts_with("events file line 3: no probe `nope` in the script"),
        "{e}"
    );
}

#[test]
fn fields_are_looked_up_by_name() {
    let evs = parse_events(r#"{"time": 0, "probe": "p", "fields": {"prev_pid": 5, "x": -1}}"#)
        .expect("parses");
    let mut ctx = stapc_sim::EventContext::default();
    stapc_sim::events::apply(&evs[0], &mut ctx);
    assert_eq!(ctx.field("prev_pid"), Some(5));
    assert_eq!(ctx.field("x"), Some(u64::MAX));
    assert_eq!(ctx.field("next_pid"), None);
}
