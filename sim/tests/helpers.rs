//! Every helper the simulator implements, called from hand-built programs.

mod common;

use bpf::helpers as h;
use bpf::insn::*;
use bpf::{Insn, MapKind};
use common::*;
use stapc_sim::{Code, EventContext, ExecError, Machine, MachineOptions, SimMaps};

fn key0() -> Vec<u8> {
    0u32.to_le_bytes().to_vec()
}

/// r2 = r10 - 8 with the u32 key `k` stored there.
fn key_on_stack(k: i32) -> Vec<Insn> {
    vec![
        Insn::st(BPF_W, 10, -8, k),
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(BPF_ADD, 2, -8),
    ]
}

fn run_m(m: &mut Machine, p: &[Insn]) -> Result<u64, ExecError> {
    m.run(&Code::new(p), &[]).map(|o| o.r0)
}

#[test]
fn map_lookup_update_delete() {
    let mut m = machine(&[map(MapKind::Hash, 4, 8, 2)]);
    // update(key 1, value 0x55 on the stack) then lookup and read.
    let p = prog![
        Insn::st(BPF_DW, 10, -16, 0x55),
        key_on_stack(1),
        Insn::ld_map(1, 0),
        Insn::mov64_reg(3, 10),
        Insn::alu64_imm(BPF_ADD, 3, -16),
        Insn::mov64_imm(4, 0),
        Insn::call(h::MAP_UPDATE_ELEM),
        Insn::jmp_imm(BPF_JNE, 0, 0, 6),
        key_on_stack(1),
        Insn::ld_map(1, 0),
        Insn::call(h::MAP_LOOKUP_ELEM),
        Insn::ldx(BPF_DW, 0, 0, 0),
        Insn::exit(),
    ];
    assert_eq!(run_m(&mut m, &p).unwrap(), 0x55);
    // Missing key: NULL. NOEXIST on an existing key: -EEXIST.
    let p = prog![
        key_on_stack(9),
        Insn::ld_map(1, 0),
        Insn::call(h::MAP_LOOKUP_ELEM),
        Insn::exit()
    ];
    assert_eq!(run_m(&mut m, &p).unwrap(), 0);
    let p = prog![
        key_on_stack(1),
        Insn::ld_map(1, 0),
        Insn::mov64_reg(3, 10),
        Insn::alu64_imm(BPF_ADD, 3, -16),
        Insn::mov64_imm(4, 1),
        Insn::call(h::MAP_UPDATE_ELEM),
        Insn::exit(),
    ];
    assert_eq!(run_m(&mut m, &p).unwrap() as i64, -17);
    // A value pointer stays readable after its key is deleted in the same run.
    let p = prog![
        key_on_stack(1),
        Insn::ld_map(1, 0),
        Insn::call(h::MAP_LOOKUP_ELEM),
        Insn::mov64_reg(6, 0),
        key_on_stack(1),
        Insn::ld_map(1, 0),
        Insn::call(h::MAP_DELETE_ELEM),
        Insn::mov64_reg(7, 0),
        Insn::ldx(BPF_DW, 0, 6, 0),
        Insn::alu64_reg(BPF_ADD, 0, 7),
        Insn::exit(),
    ];
    assert_eq!(run_m(&mut m, &p).unwrap(), 0x55);
    assert_eq!(
        m.store_mut().lookup(0, &1u32.to_le_bytes(), 0).unwrap(),
        None
    );
    let p = prog![
        key_on_stack(1),
        Insn::ld_map(1, 0),
        Insn::call(h::MAP_DELETE_ELEM),
        Insn::exit()
    ];
    assert_eq!(run_m(&mut m, &p).unwrap() as i64, -2);
    // A scalar where a map belongs is an error, not a crash.
    let p = prog![
        key_on_stack(1),
        Insn::mov64_imm(1, 3),
        Insn::call(h::MAP_LOOKUP_ELEM),
        Insn::exit()
    ];
    assert!(matches!(
        run_m(&mut m, &p),
        Err(ExecError::BadHelperArg { helper: 1, .. })
    ));
    // A key pointer into nothing faults.
    let p = prog![
        Insn::ld_map(1, 0),
        Insn::mov64_imm(2, 0),
        Insn::call(h::MAP_LOOKUP_ELEM),
        Insn::exit()
    ];
    assert!(matches!(
        run_m(&mut m, &p),
        Err(ExecError::Memory { pc: 3, .. })
    ));
}

#[test]
fn stores_through_value_pointers_persist_per_cpu() {
    let maps = [map(MapKind::PerCpuArray, 4, 8, 1)];
    let mut m = Machine::new(
        Box::new(SimMaps::new(&maps, 2).unwrap()),
        MachineOptions::default(),
    );
    let p = prog![
        key_on_stack(0),
        Insn::ld_map(1, 0),
        Insn::call(h::MAP_LOOKUP_ELEM),
        Insn::mov64_imm(1, 3),
        Insn::atomic(BPF_DW, 0, 1, 0, 0),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ];
    run_m(&mut m, &p).unwrap();
    m.set_event(EventContext {
        cpu: 1,
        ..EventContext::default()
    });
    run_m(&mut m, &p).unwrap();
    run_m(&mut m, &p).unwrap();
    let all = m.store_mut().lookup_all_cpus(0, &key0()).unwrap().unwrap();
    assert_eq!(
        all,
        vec![3u64.to_le_bytes().to_vec(), 6u64.to_le_bytes().to_vec()]
    );
}

#[test]
fn time_task_and_cpu_helpers() {
    let mut m = machine(&[]);
    m.set_event(EventContext {
        pid: 7,
        tid: 8,
        uid: 9,
        gid: 10,
        comm: "a-very-long-command-name".into(),
        cpu: 0,
        time_ns: 12345,
        ..EventContext::default()
    });
    assert_eq!(
        run_m(&mut m, &[Insn::call(h::KTIME_GET_NS), Insn::exit()]).unwrap(),
        12345
    );
    assert_eq!(
        run_m(&mut m, &[Insn::call(h::GET_CURRENT_PID_TGID), Insn::exit()]).unwrap(),
        (7 << 32) | 8
    );
    assert_eq!(
        run_m(&mut m, &[Insn::call(h::GET_CURRENT_UID_GID), Insn::exit()]).unwrap(),
        (10 << 32) | 9
    );
    assert_eq!(
        run_m(&mut m, &[Insn::call(h::GET_SMP_PROCESSOR_ID), Insn::exit()]).unwrap(),
        0
    );
    // comm is truncated to the buffer and NUL-terminated: read its last two bytes.
    let p = prog![
        Insn::mov64_reg(1, 10),
        Insn::alu64_imm(BPF_ADD, 1, -16),
        Insn::mov64_imm(2, 16),
        Insn::call(h::GET_CURRENT_COMM),
        Insn::ldx(BPF_H, 1, 10, -2),
        Insn::ldx(BPF_B, 2, 10, -16),
        Insn::alu64_imm(BPF_LSH, 1, 8),
        Insn::alu64_reg(BPF_OR, 1, 2),
        Insn::alu64_reg(BPF_ADD, 0, 1),
        Insn::exit(),
    ];
    assert_eq!(
        run_m(&mut m, &p).unwrap(),
        ((b'm' as u64) << 8) | b'a' as u64
    );
    // prandom: deterministic per seed, not constant.
    let p = prog![
        Insn::call(h::GET_PRANDOM_U32),
        Insn::mov64_reg(6, 0),
        Insn::call(h::GET_PRANDOM_U32),
        Insn::alu64_imm(BPF_LSH, 0, 32),
        Insn::alu64_reg(BPF_OR, 0, 6),
        Insn::exit()
    ];
    let a = run_m(&mut machine(&[]), &p).unwrap();
    let b = run_m(&mut machine(&[]), &p).unwrap();
    assert_eq!(a, b);
    assert_ne!(a >> 32, a & 0xffff_ffff);
}

#[test]
fn unwind_only_in_conformance_mode() {
    let p = prog![
        Insn::mov64_imm(1, 0),
        Insn::call(5),
        Insn::mov64_imm(0, 2),
        Insn::exit()
    ];
    let mut m = Machine::new(
        Box::new(SimMaps::new(&[], 1).unwrap()),
        MachineOptions {
            conformance: true,
            ..MachineOptions::default()
        },
    );
    assert_eq!(m.run_with_memory(&Code::new(&p), None).unwrap().r0, 0);
    let p2 = prog![Insn::mov64_imm(1, -1), Insn::call(5), Insn::exit()];
    assert_eq!(
        m.run_with_memory(&Code::new(&p2), None).unwrap().r0,
        u64::MAX
    );
    // Without the option, helper 5 is ktime_get_ns and the program goes on.
    assert_eq!(run(&p), 2);
}

#[test]
fn probe_read_family() {
    let mut m = machine(&[]);
    let input = b"hello\0world".to_vec();
    // probe_read(dst = r10-16, 8, src = input) then return the first 8 bytes.
    for id in [h::PROBE_READ, h::PROBE_READ_KERNEL, h::PROBE_READ_USER] {
        let p = prog![
            Insn::mov64_reg(3, 1),
            Insn::mov64_reg(1, 10),
            Insn::alu64_imm(BPF_ADD, 1, -16),
            Insn::mov64_imm(2, 8),
            Insn::call(id),
            Insn::mov64_reg(6, 0),
            Insn::ldx(BPF_DW, 0, 10, -16),
            Insn::alu64_reg(BPF_ADD, 0, 6),
            Insn::exit(),
        ];
        let r = m.run_with_memory(&Code::new(&p), Some(&input)).unwrap().r0;
        assert_eq!(r, u64::from_le_bytes(input[..8].try_into().unwrap()));
    }
    // A bad address: -EFAULT and a zeroed destination.
    for id in [
        h::PROBE_READ,
        h::PROBE_READ_KERNEL_STR,
        h::PROBE_READ_USER_STR,
        h::PROBE_READ_STR,
    ] {
        let p = prog![
            Insn::st(BPF_DW, 10, -16, -1),
            Insn::mov64_reg(1, 10),
            Insn::alu64_imm(BPF_ADD, 1, -16),
            Insn::mov64_imm(2, 8),
            Insn::lddw(3, 0x1234),
            Insn::call(id),
            Insn::ldx(BPF_DW, 1, 10, -16),
            Insn::alu64_reg(BPF_ADD, 0, 1),
            Insn::exit(),
        ];
        assert_eq!(
            m.run_with_memory(&Code::new(&p), None).unwrap().r0 as i64,
            -14,
            "helper {id}"
        );
    }
    // _str: copies through the NUL and returns its length including it; truncates.
    let str_read = |size: i32, off: i32| {
        prog![
            Insn::mov64_reg(3, 1),
            Insn::alu64_imm(BPF_ADD, 3, off),
            Insn::mov64_reg(1, 10),
            Insn::alu64_imm(BPF_ADD, 1, -16),
            Insn::mov64_imm(2, size),
            Insn::call(h::PROBE_READ_KERNEL_STR),
            Insn::ldx(BPF_DW, 1, 10, -16),
            Insn::alu64_imm(BPF_LSH, 0, 56),
            Insn::alu64_reg(BPF_OR, 0, 1),
            Insn::exit(),
        ]
    };
    let r = m
        .run_with_memory(&Code::new(&str_read(16, 0)), Some(&input))
        .unwrap()
        .r0;
    assert_eq!(r, (6 << 56) | u64::from_le_bytes(*b"hello\0\0\0"));
    let r = m
        .run_with_memory(&Code::new(&str_read(4, 0)), Some(&input))
        .unwrap()
        .r0;
    assert_eq!(r & 0xffff_ffff, u32::from_le_bytes(*b"hel\0") as u64);
    assert_eq!(r >> 56, 4);
    // "world" runs into the end of its region without a NUL: a fault.
    let r = m
        .run_with_memory(&Code::new(&str_read(16, 6)), Some(&input))
        .unwrap()
        .r0;
    assert_eq!(r >> 56, (-14i64 as u64) & 0xff);
}

#[test]
fn perf_event_output_and_ringbuf() {
    let maps = [
        map(MapKind::PerfEventArray, 4, 4, 0),
        map(MapKind::RingBuf, 0, 0, 64),
    ];
    let mut m = machine(&maps);
    let p = prog![
        Insn::st(BPF_DW, 10, -8, 0x41),
        Insn::ld_map(2, 0),
        Insn::lddw(3, h::BPF_F_CURRENT_CPU),
        Insn::mov64_reg(4, 10),
        Insn::alu64_imm(BPF_ADD, 4, -8),
        Insn::mov64_imm(5, 8),
        Insn::call(h::PERF_EVENT_OUTPUT),
        Insn::exit(),
    ];
    assert_eq!(run_m(&mut m, &p).unwrap(), 0);
    assert_eq!(
        m.store_mut().drain(0).unwrap(),
        vec![0x41u64.to_le_bytes().to_vec()]
    );
    // ringbuf_output until full: 3rd 24-byte record does not fit in 64 bytes.
    let out = prog![
        Insn::ld_map(1, 1),
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(BPF_ADD, 2, -24),
        Insn::mov64_imm(3, 24),
        Insn::mov64_imm(4, 0),
        Insn::call(h::RINGBUF_OUTPUT),
        Insn::exit(),
    ];
    assert_eq!(run_m(&mut m, &out).unwrap(), 0);
    assert_eq!(run_m(&mut m, &out).unwrap(), 0);
    assert_eq!(run_m(&mut m, &out).unwrap() as i64, -11);
    assert_eq!(m.store().dropped(1), 1);
    assert_eq!(m.store_mut().drain(1).unwrap().len(), 2);
    // reserve + write + submit; reserve + discard; reserve too big → NULL.
    let p = prog![
        Insn::ld_map(1, 1),
        Insn::mov64_imm(2, 8),
        Insn::mov64_imm(3, 0),
        Insn::call(h::RINGBUF_RESERVE),
        Insn::jmp_imm(BPF_JEQ, 0, 0, 5),
        Insn::st(BPF_DW, 0, 0, 0x77),
        Insn::mov64_reg(1, 0),
        Insn::mov64_imm(2, 0),
        Insn::call(h::RINGBUF_SUBMIT),
        Insn::mov64_imm(0, 1),
        Insn::exit(),
    ];
    assert_eq!(run_m(&mut m, &p).unwrap(), 1);
    assert_eq!(
        m.store_mut().drain(1).unwrap(),
        vec![0x77u64.to_le_bytes().to_vec()]
    );
    let p = prog![
        Insn::ld_map(1, 1),
        Insn::mov64_imm(2, 48),
        Insn::mov64_imm(3, 0),
        Insn::call(h::RINGBUF_RESERVE),
        Insn::mov64_reg(1, 0),
        Insn::mov64_imm(2, 0),
        Insn::call(h::RINGBUF_DISCARD),
        Insn::ld_map(1, 1),
        Insn::mov64_imm(2, 60),
        Insn::mov64_imm(3, 0),
        Insn::call(h::RINGBUF_RESERVE),
        Insn::exit(),
    ];
    assert_eq!(run_m(&mut m, &p).unwrap(), 0);
    assert!(m.store_mut().drain(1).unwrap().is_empty());
    // Submitting something that is not a reservation.
    let p = prog![
        Insn::mov64_reg(1, 10),
        Insn::mov64_imm(2, 0),
        Insn::call(h::RINGBUF_SUBMIT),
        Insn::exit()
    ];
    assert!(matches!(
        run_m(&mut m, &p),
        Err(ExecError::BadHelperArg { .. })
    ));
}

#[test]
fn trace_printk_goes_to_the_trace_log() {
    let mut m = machine(&[]);
    let p = prog![
        Insn::lddw(1, i64::from_le_bytes(*b"x=%d s\0\0")),
        Insn::stx(BPF_DW, 10, 1, -8),
        Insn::mov64_reg(1, 10),
        Insn::alu64_imm(BPF_ADD, 1, -8),
        Insn::mov64_imm(2, 8),
        Insn::mov64_imm(3, -5),
        Insn::call(h::TRACE_PRINTK),
        Insn::exit(),
    ];
    assert_eq!(run_m(&mut m, &p).unwrap(), 6);
    assert_eq!(m.trace_log, vec!["x=-5 s".to_string()]);
}

fn ld_func(dst: u8, rel: i32) -> [Insn; 2] {
    [
        Insn::new(BPF_LD | BPF_IMM | BPF_DW, dst, 4, 0, rel),
        Insn::new(0, 0, 0, 0, 0),
    ]
}

#[test]
fn bpf_loop_and_for_each_map_elem_call_back() {
    // loop(10, cb, ctx = &sum, 0); cb adds its index to *ctx; stops at 1 when i == 6.
    let mut m = machine(&[]);
    let p = prog![
        Insn::st(BPF_DW, 10, -8, 0),
        Insn::mov64_imm(1, 10),
        ld_func(2, 9),
        Insn::mov64_reg(3, 10),
        Insn::alu64_imm(BPF_ADD, 3, -8),
        Insn::mov64_imm(4, 0),
        Insn::call(h::LOOP),
        Insn::ldx(BPF_DW, 1, 10, -8),
        Insn::alu64_imm(BPF_LSH, 0, 32),
        Insn::alu64_reg(BPF_OR, 0, 1),
        Insn::exit(),
        // cb(i, ctx)
        Insn::ldx(BPF_DW, 3, 2, 0),
        Insn::alu64_reg(BPF_ADD, 3, 1),
        Insn::stx(BPF_DW, 2, 3, 0),
        Insn::mov64_imm(0, 0),
        Insn::jmp_imm(BPF_JNE, 1, 6, 1),
        Insn::mov64_imm(0, 1),
        Insn::exit(),
    ];
    assert_eq!(run_m(&mut m, &p).unwrap(), (7 << 32) | 21);
    // for_each over a hash map: sum keys * values; the callback may write values.
    let mut m = machine(&[map(MapKind::Hash, 4, 8, 8)]);
    for k in 1..=3u32 {
        m.store_mut()
            .update(0, &k.to_le_bytes(), &(k as u64 * 10).to_le_bytes(), 0, None)
            .unwrap();
    }
    let p = prog![
        Insn::st(BPF_DW, 10, -8, 0),
        Insn::ld_map(1, 0),
        ld_func(2, 9),
        Insn::mov64_reg(3, 10),
        Insn::alu64_imm(BPF_ADD, 3, -8),
        Insn::mov64_imm(4, 0),
        Insn::call(h::FOR_EACH_MAP_ELEM),
        Insn::ldx(BPF_DW, 1, 10, -8),
        Insn::alu64_imm(BPF_LSH, 0, 32),
        Insn::alu64_reg(BPF_OR, 0, 1),
        Insn::exit(),
        // cb(map, key, value, ctx): *ctx += *key * *value; *value = 1
        Insn::ldx(BPF_W, 5, 2, 0),
        Insn::ldx(BPF_DW, 6, 3, 0),
        Insn::alu64_reg(BPF_MUL, 5, 6),
        Insn::ldx(BPF_DW, 6, 4, 0),
        Insn::alu64_reg(BPF_ADD, 6, 5),
        Insn::stx(BPF_DW, 4, 6, 0),
        Insn::st(BPF_DW, 3, 0, 1),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ];
    assert_eq!(run_m(&mut m, &p).unwrap(), (3 << 32) | 140);
    assert_eq!(
        m.store_mut().lookup(0, &2u32.to_le_bytes(), 0).unwrap(),
        Some(1u64.to_le_bytes().to_vec())
    );
    // A callback that is not a function.
    let p = prog![
        Insn::mov64_imm(1, 1),
        Insn::mov64_imm(2, 5),
        Insn::mov64_imm(3, 0),
        Insn::mov64_imm(4, 0),
        Insn::call(h::LOOP),
        Insn::exit()
    ];
    assert!(matches!(
        run_m(&mut m, &p),
        Err(ExecError::BadHelperArg {
            helper: h::LOOP,
            ..
        })
    ));
}

#[test]
fn stapc_string_helpers() {
    let mut m = machine(&[]);
    // concat("foo", "barbaz") into 8 bytes → "foobarb\0"; compare with "foo".
    let p = prog![
        Insn::lddw(1, i64::from_le_bytes(*b"foo\0\0\0\0\0")),
        Insn::stx(BPF_DW, 10, 1, -8),
        Insn::lddw(1, i64::from_le_bytes(*b"barbaz\0\0")),
        Insn::stx(BPF_DW, 10, 1, -16),
        Insn::st(BPF_DW, 10, -24, -1),
        Insn::mov64_reg(1, 10),
        Insn::alu64_imm(BPF_ADD, 1, -24),
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(BPF_ADD, 2, -8),
        Insn::mov64_reg(3, 10),
        Insn::alu64_imm(BPF_ADD, 3, -16),
        Insn::mov64_imm(4, 8),
        Insn::call(h::STAPC_STR_CONCAT),
        Insn::ldx(BPF_DW, 0, 10, -24),
        Insn::exit(),
    ];
    assert_eq!(
        run_m(&mut m, &p).unwrap(),
        u64::from_le_bytes(*b"foobarb\0")
    );
    let cmp = |a: &[u8; 8], b: &[u8; 8]| {
        let p = prog![
            Insn::lddw(1, i64::from_le_bytes(*a)),
            Insn::stx(BPF_DW, 10, 1, -8),
            Insn::lddw(1, i64::from_le_bytes(*b)),
            Insn::stx(BPF_DW, 10, 1, -16),
            Insn::mov64_reg(1, 10),
            Insn::alu64_imm(BPF_ADD, 1, -8),
            Insn::mov64_reg(2, 10),
            Insn::alu64_imm(BPF_ADD, 2, -16),
            Insn::mov64_imm(3, 8),
            Insn::call(h::STAPC_STR_COMPARE),
            Insn::exit(),
        ];
        run(&p) as i64
    };
    assert_eq!(cmp(b"abc\0\0\0\0\0", b"abd\0\0\0\0\0"), -1);
    assert_eq!(cmp(b"abc\0\0\0\0\0", b"abc\0\0\0\0\0"), 0);
    assert_eq!(cmp(b"abcd\0\0\0\0", b"abc\0\0\0\0\0"), 1);
}

#[test]
fn reserve_submit_loops_and_stale_samples_fault() {
    let mut m = machine(&[map(MapKind::RingBuf, 0, 0, 4096)]);
    m.store_mut().set_buffer_limits(false);
    // 10000 × (reserve 8, store, submit); then write through the last pointer.
    let p = prog![
        Insn::mov64_imm(7, 10000),
        Insn::ld_map(1, 0),
        Insn::mov64_imm(2, 8),
        Insn::mov64_imm(3, 0),
        Insn::call(h::RINGBUF_RESERVE),
        Insn::jmp_imm(BPF_JEQ, 0, 0, 8),
        Insn::stx(BPF_DW, 0, 7, 0),
        Insn::mov64_reg(6, 0),
        Insn::mov64_reg(1, 0),
        Insn::mov64_imm(2, 0),
        Insn::call(h::RINGBUF_SUBMIT),
        Insn::alu64_imm(BPF_SUB, 7, 1),
        Insn::jmp_imm(BPF_JNE, 7, 0, -13),
        Insn::st(BPF_DW, 6, 0, 1),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ];
    let e = m.run(&Code::new(&p), &[]).unwrap_err();
    assert!(matches!(e, ExecError::Memory { pc: 14, .. }), "{e}");
    let recs = m.store_mut().drain(0).unwrap();
    assert_eq!(recs.len(), 10000);
    assert_eq!(recs[0], 10000u64.to_le_bytes());
    assert_eq!(recs[9999], 1u64.to_le_bytes());
}

#[test]
fn absurd_cpu_counts_are_clamped() {
    let s = SimMaps::new(&[map(MapKind::PerfEventArray, 4, 4, 0)], u32::MAX).unwrap();
    assert_eq!(stapc_sim::MapStore::cpus(&s), stapc_sim::maps::MAX_CPUS);
}
