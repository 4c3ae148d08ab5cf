//! Whole-object sessions with hand-built programs that follow runtime.md.

mod common;

use bpf::insn::*;
use bpf::{ArgKind, Insn, ProbeKind};
use common::builder::*;
use stapc_sim::{run, SessionOptions};

fn go(obj: &bpf::Object, opts: &SessionOptions) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = run(obj, opts, &mut out, &mut err).expect("session runs");
    (
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn go_default(obj: &bpf::Object) -> (i32, String, String) {
    go(obj, &SessionOptions::default())
}

#[test]
fn begin_prints_through_a_printf_record() {
    for ringbuf in [true, false] {
        let mut o = ObjBuilder::new(ringbuf);
        let f = o.format("hello %d %s!\n", &[ArgKind::Long, ArgKind::Str]);
        o.program(begin(0), |b| {
            b.printf(f, &[A::Imm(42), A::Str(b"world")]);
        });
        assert_eq!(
            go_default(&o.obj),
            (0, "hello 42 world!\n".into(), String::new()),
            "ringbuf {ringbuf}"
        );
    }
}

#[test]
fn timer_fires_n_times_then_exits_and_end_runs() {
    let mut o = ObjBuilder::new(true);
    let f = o.format("n=%d t=%d\n", &[ArgKind::Long, ArgKind::Long]);
    let fe = o.format("end n=%d\n", &[ArgKind::Long]);
    o.program(timer_ms(100), |b| {
        b.incr_global(0);
        b.jmp(Insn::jmp_imm(BPF_JNE, 1, 5, 0), "out");
        b.i(Insn::call(bpf::helpers::KTIME_GET_NS))
            .i(Insn::mov64_reg(2, 0));
        // Helpers clobber r1-r5: reload the counter.
        b.i(Insn::ldx(BPF_DW, 1, GLB, 0));
        b.printf(f, &[A::Reg(1), A::Reg(2)]).exit();
    });
    o.program(end(0), |b| {
        b.i(Insn::ldx(BPF_DW, 1, GLB, 0));
        b.printf(fe, &[A::Reg(1)]);
    });
    let (st, out, _) = go_default(&o.obj);
    assert_eq!(st, 0);
    assert_eq!(out, "n=5 t=500000000\nend n=5\n");
}

#[test]
fn begin_priorities_then_source_order() {
    let mut o = ObjBuilder::new(true);
    for (prio, text) in [(5, "b5\n"), (-1, "b-1\n"), (0, "b0a\n"), (0, "b0b\n")] {
        let f = o.format(text, &[]);
        o.program(begin(prio), |b| {
            b.printf(f, &[]);
        });
    }
    for (prio, text) in [(1, "e1\n"), (-3, "e-3\n")] {
        let f = o.format(text, &[]);
        o.program(end(prio), |b| {
            b.printf(f, &[]);
        });
    }
    assert_eq!(go_default(&o.obj).1, "b-1\nb0a\nb0b\nb5\ne-3\ne1\n");
}

#[test]
fn same_instant_events_fire_in_program_order() {
    let mut o = ObjBuilder::new(true);
    let (fa, fb, fc) = (
        o.format("A\n", &[]),
        o.format("B\n", &[]),
        o.format("C\n", &[]),
    );
    o.program(timer_ms(2), |b| {
        b.printf(fa, &[]);
    });
    o.program(timer_ms(1), |b| {
        b.printf(fb, &[]);
    });
    o.program(timer_ms(4), |b| {
        b.printf(fc, &[]).exit();
    });
    assert_eq!(go_default(&o.obj).1, "B\nA\nB\nB\nA\nB\nC\n");
}

#[test]
fn exit_in_begin_skips_later_begins_and_events() {
    let mut o = ObjBuilder::new(true);
    let (f1, f2, f3, f4) = (
        o.format("one\n", &[]),
        o.format("after exit\n", &[]),
        o.format("two\n", &[]),
        o.format("end\n", &[]),
    );
    o.program(begin(0), |b| {
        b.printf(f1, &[]).exit().printf(f2, &[]);
    });
    o.program(begin(0), |b| {
        b.printf(f3, &[]);
    });
    o.program(timer_ms(1), |b| {
        b.printf(f3, &[]);
    });
    o.program(end(0), |b| {
        b.printf(f4, &[]);
    });
    assert_eq!(
        go_default(&o.obj),
        (0, "one\nafter exit\nend\n".into(), String::new())
    );
}

#[test]
fn uncaught_error_runs_error_probes_with_status_1() {
    let mut o = ObjBuilder::new(true);
    let (fs, fn_, fe, fp) = (
        o.format("start\n", &[]),
        o.format("not reached\n", &[]),
        o.format("end skipped\n", &[]),
        o.format("error probe ran\n", &[]),
    );
    let e = o.error("fatal thing", "");
    o.program(begin(0), |b| {
        b.printf(fs, &[])
            .error(e, Some(b"fatal thing"))
            .printf(fn_, &[]);
    });
    o.program(end(0), |b| {
        b.printf(fe, &[]);
    });
    o.program(error_probe(), |b| {
        b.printf(fp, &[]);
    });
    let (st, out, err) = go_default(&o.obj);
    assert_eq!(st, 1);
    assert_eq!(out, "start\nerror probe ran\n");
    assert_eq!(err, "ERROR: fatal thing\n");
}

#[test]
fn kernel_error_with_static_message_and_location() {
    let mut o = ObjBuilder::new(false);
    let (fe, fp) = (
        o.format("end skipped\n", &[]),
        o.format("error probe ran\n", &[]),
    );
    let e = o.error("division by 0", "near operator '/' at x.stp:3:50");
    o.program(timer_ms(1), |b| {
        b.error(e, None);
    });
    o.program(end(0), |b| {
        b.printf(fe, &[]);
    });
    o.program(error_probe(), |b| {
        b.printf(fp, &[]);
    });
    let (st, out, err) = go_default(&o.obj);
    assert_eq!((st, out.as_str()), (1, "error probe ran\n"));
    assert_eq!(
        err,
        "ERROR: division by 0 near operator '/' at x.stp:3:50\n"
    );
}

#[test]
fn faults_name_the_program_and_instruction() {
    let mut o = ObjBuilder::new(true);
    let fe = o.format("end\n", &[]);
    o.program(begin(0), |b| {
        b.i(Insn::mov64_imm(1, 0)).i(Insn::ldx(BPF_DW, 1, 1, 0));
    });
    o.program(end(0), |b| {
        b.printf(fe, &[]);
    });
    o.obj.programs[0].lines = vec![bpf::LineEntry {
        insn: 0,
        line: 7,
        col: 3,
    }];
    let (st, out, err) = go_default(&o.obj);
    assert_eq!(st, 1);
    assert_eq!(out, "");
    assert!(
        err.contains("prog_0")
            && err.contains("insn ")
            && err.contains("NULL")
            && err.contains("t.stp:7:3"),
        "{err}"
    );
    // Fuel exhaustion.
    let mut o = ObjBuilder::new(true);
    o.program(begin(0), |b| {
        b.i(Insn::ja(-1));
    });
    let (st, _, err) = go(
        &o.obj,
        &SessionOptions {
            fuel: 1000,
            ..SessionOptions::default()
        },
    );
    assert_eq!(st, 1);
    assert!(err.contains("instruction limit of 1000"), "{err}");
}

#[test]
fn kernel_probes_see_the_default_context() {
    let mut o = ObjBuilder::new(true);
    let f = o.format(
        "%d %d %s %d %d\n",
        &[
            ArgKind::Long,
            ArgKind::Long,
            ArgKind::Str,
            ArgKind::Long,
            ArgKind::Long,
        ],
    );
    o.program(
        ProbeKind::Tracepoint {
            group: "sched".into(),
            name: "sched_switch".into(),
        },
        |b| {
            b.i(Insn::call(bpf::helpers::GET_CURRENT_PID_TGID));
            b.i(Insn::mov64_reg(2, 0))
                .i(Insn::alu64_imm(BPF_RSH, 2, 32))
                .i(Insn::stx(BPF_DW, SCR, 2, 8));
            b.i(Insn::mov64_reg(2, 0))
                .i(Insn::alu64_imm(BPF_AND, 2, -1))
                .i(Insn::alu32_imm(BPF_MOV, 2, 0));
            b.i(Insn::stx(BPF_W, SCR, 0, 16))
                .i(Insn::st(BPF_W, SCR, 20, 0));
            b.i(Insn::mov64_reg(1, SCR))
                .i(Insn::alu64_imm(BPF_ADD, 1, 24))
                .i(Insn::mov64_imm(2, MAXSTR as i32));
            b.i(Insn::call(bpf::helpers::GET_CURRENT_COMM));
            b.i(Insn::call(bpf::helpers::GET_CURRENT_UID_GID))
                .i(Insn::stx(BPF_DW, SCR, 0, 24 + MAXSTR as i16));
            b.i(Insn::call(bpf::helpers::GET_SMP_PROCESSOR_ID))
                .i(Insn::stx(BPF_DW, SCR, 0, 32 + MAXSTR as i16));
            b.i(Insn::st(BPF_W, SCR, 0, 1))
                .i(Insn::st(BPF_W, SCR, 4, f as i32));
            b.ld(Insn::ld_map(1, OUTPUT))
                .i(Insn::mov64_reg(2, SCR))
                .i(Insn::mov64_imm(3, 40 + MAXSTR as i32));
            b.i(Insn::mov64_imm(4, 0))
                .i(Insn::call(bpf::helpers::RINGBUF_OUTPUT));
            b.exit();
        },
    );
    assert_eq!(go_default(&o.obj).1, "1000 1000 stapc-sim 0 0\n");
    let opts = SessionOptions {
        target_pid: Some(4242),
        ..SessionOptions::default()
    };
    assert_eq!(go(&o.obj, &opts).1, "4242 4242 stapc-sim 0 0\n");
}

#[test]
fn session_ends_at_duration_or_when_nothing_can_fire() {
    let mut o = ObjBuilder::new(true);
    let f = o.format("n=%d\n", &[ArgKind::Long]);
    o.program(timer_ms(100), |b| {
        b.incr_global(0);
    });
    o.program(end(0), |b| {
        b.i(Insn::ldx(BPF_DW, 1, GLB, 0));
        b.printf(f, &[A::Reg(1)]);
    });
    let opts = SessionOptions {
        duration_ns: 1_000_000_000,
        ..SessionOptions::default()
    };
    assert_eq!(go(&o.obj, &opts).1, "n=10\n");
    assert_eq!(go_default(&o.obj).1, "n=100\n");
    // Only userspace probes and no exit(): straight to end.
    let mut o = ObjBuilder::new(true);
    let (fb, fe) = (o.format("begin\n", &[]), o.format("end\n", &[]));
    o.program(begin(0), |b| {
        b.printf(fb, &[]);
    });
    o.program(end(0), |b| {
        b.printf(fe, &[]);
    });
    assert_eq!(
        go_default(&o.obj),
        (0, "begin\nend\n".into(), String::new())
    );
}

#[test]
fn profile_timers_fire_on_every_cpu() {
    let mut o = ObjBuilder::new(true);
    let f = o.format("cpu %d\n", &[ArgKind::Long]);
    o.program(
        ProbeKind::Timer {
            period_ns: 1_000_000,
            profile: true,
        },
        |b| {
            b.i(Insn::call(bpf::helpers::GET_SMP_PROCESSOR_ID))
                .i(Insn::mov64_reg(1, 0));
            b.printf(f, &[A::Reg(1)]);
        },
    );
    let opts = SessionOptions {
        cpus: 2,
        duration_ns: 2_000_000,
        ..SessionOptions::default()
    };
    assert_eq!(go(&o.obj, &opts).1, "cpu 0\ncpu 1\ncpu 0\ncpu 1\n");
}

#[test]
fn bad_objects_are_errors_not_panics() {
    let mut o = ObjBuilder::new(true);
    o.obj.output_map = 0;
    let mut sink = Vec::new();
    assert!(run(
        &o.obj,
        &SessionOptions::default(),
        &mut Vec::new(),
        &mut sink
    )
    .is_err());
    let mut o = ObjBuilder::new(true);
    o.obj.maps[0].init = vec![(vec![0; 4], vec![0; 3])];
    assert!(run(
        &o.obj,
        &SessionOptions::default(),
        &mut Vec::new(),
        &mut sink
    )
    .is_err());
    // A record naming a format that does not exist.
    let mut o = ObjBuilder::new(true);
    o.program(begin(0), |b| {
        b.printf(7, &[]);
    });
    let (st, _, err) = go_default(&o.obj);
    assert_eq!(st, 1);
    assert!(err.contains("format #7"), "{err}");
}

#[test]
fn userspace_probes_never_drop_output() {
    // 20000 records of 16 bytes (+8 header each) overflow a 256 KiB ring
    // buffer within one begin run; userspace output must not be lost.
    let mut o = ObjBuilder::new(true);
    let f = o.format("%d\n", &[ArgKind::Long]);
    o.program(begin(0), |b| {
        b.label("loop");
        b.incr_global(8);
        b.printf(f, &[A::Reg(1)]);
        b.i(Insn::ldx(BPF_DW, 1, GLB, 8));
        b.jmp(Insn::jmp_imm(BPF_JLT, 1, 20000, 0), "loop");
    });
    let (st, out, err) = go_default(&o.obj);
    assert_eq!((st, err.as_str()), (0, ""));
    assert_eq!(out.lines().count(), 20000);
    assert!(out.ends_with("19999\n20000\n"));
}

/// conformance/timers_sim.stp, compiled by hand.
#[test]
fn timers_sim_conformance_script() {
    let mut o = ObjBuilder::new(true);
    let f = o.format("n=%d m=%d\n", &[ArgKind::Long, ArgKind::Long]);
    let fe = o.format("end n=%d\n", &[ArgKind::Long]);
    o.program(timer_ms(100), |b| {
        b.incr_global(0);
    });
    o.program(timer_ms(250), |b| {
        b.incr_global(8);
    });
    o.program(timer_ms(1000), |b| {
        b.i(Insn::ldx(BPF_DW, 1, GLB, 0))
            .i(Insn::ldx(BPF_DW, 2, GLB, 8));
        b.printf(f, &[A::Reg(1), A::Reg(2)]).exit();
    });
    o.program(end(0), |b| {
        b.i(Insn::ldx(BPF_DW, 1, GLB, 0));
        b.printf(fe, &[A::Reg(1)]);
    });
    assert_eq!(
        go_default(&o.obj),
        (0, "n=10 m=4\nend n=10\n".into(), String::new())
    );
}
