//! arrays: instruction selection of the array instructions — the maps and
//! descriptors `compile` adds, the helpers each instruction calls, keys in
//! scratch (new kernels) or copied to the bottom of the stack (before 4.18),
//! and foreach/clear refused in kernel programs.

use super::*;
use stapc_bpf::ArgKind;

fn arrays() -> Vec<ArrayInfo> {
    vec![
        ArrayInfo {
            name: "counts".into(),
            keys: vec![ArgKind::Long],
            value: ArgKind::Long,
            max_entries: 100,
            stat: None,
        },
        ArrayInfo {
            name: "names".into(),
            keys: vec![ArgKind::Str, ArgKind::Long],
            value: ArgKind::Str,
            max_entries: 4096,
            stat: None,
        },
    ]
}

/// counts[k] = 5; counts[k] += 1; in; get; delete; names[s, k] = s; read it.
fn kernel_fn() -> Function {
    let mut f = Function::new("timer_1");
    let b = f.create_block();
    let key = f.create_slot(8);
    let key2 = f.create_slot(MSL + 8);
    let s = f.create_slot(MSL);
    let k = f.append(b, InstData::Iconst { imm: 7 }, sp()).unwrap();
    let v = f.append(b, InstData::Iconst { imm: 5 }, sp()).unwrap();
    f.append(
        b,
        InstData::KeyStore {
            key,
            offset: 0,
            arg: k,
        },
        sp(),
    );
    f.append(
        b,
        InstData::ArraySet {
            array: 0,
            key,
            arg: v,
        },
        sp(),
    );
    f.append(
        b,
        InstData::ArrayAdd {
            array: 0,
            key,
            arg: v,
        },
        sp(),
    );
    let present = f
        .append(b, InstData::ArrayIn { array: 0, key }, sp())
        .unwrap();
    let got = f
        .append(b, InstData::ArrayGet { array: 0, key }, sp())
        .unwrap();
    f.append(b, InstData::ArrayDelete { array: 0, key }, sp());
    f.append(
        b,
        InstData::StrConst {
            dst: s,
            value: "x".into(),
        },
        sp(),
    );
    f.append(
        b,
        InstData::KeyStoreStr {
            key: key2,
            offset: 0,
            src: s,
        },
        sp(),
    );
    f.append(
        b,
        InstData::KeyStore {
            key: key2,
            offset: MSL,
            arg: got,
        },
        sp(),
    );
    f.append(
        b,
        InstData::ArraySetStr {
            array: 1,
            key: key2,
            src: s,
        },
        sp(),
    );
    f.append(
        b,
        InstData::ArrayGetStr {
            dst: s,
            array: 1,
            key: key2,
        },
        sp(),
    );
    f.append(
        b,
        InstData::Printf {
            format: 0,
            args: vec![OutArg::Long(present), OutArg::Str(s)],
        },
        sp(),
    );
    ret(&mut f, b);
    f
}

/// foreach (k in counts-) printf(k); delete counts.
fn begin_fn() -> Function {
    let mut f = Function::new("begin_0");
    let entry = f.create_block();
    let header = f.create_block();
    let body = f.create_block();
    let exit = f.create_block();
    let key = f.create_slot(8);
    let limit = f.append(entry, InstData::Iconst { imm: -1 }, sp()).unwrap();
    let h = f
        .append(
            entry,
            InstData::ArrayIterStart {
                array: 0,
                sort: IterSort::Key {
                    column: 0,
                    descending: true,
                },
                limit,
            },
            sp(),
        )
        .unwrap();
    f.append(
        entry,
        InstData::Jump {
            dest: header,
            args: vec![],
        },
        sp(),
    );
    let found = f
        .append(header, InstData::ArrayIterNext { handle: h, key }, sp())
        .unwrap();
    f.append(
        header,
        InstData::Brif {
            cond: found,
            then_dest: body,
            then_args: vec![],
            else_dest: exit,
            else_args: vec![],
        },
        sp(),
    );
    let k = f
        .append(body, InstData::KeyLoad { key, offset: 0 }, sp())
        .unwrap();
    f.append(
        body,
        InstData::Printf {
            format: 1,
            args: vec![OutArg::Long(k)],
        },
        sp(),
    );
    f.append(
        body,
        InstData::Jump {
            dest: header,
            args: vec![],
        },
        sp(),
    );
    f.append(exit, InstData::ArrayIterEnd { handle: h }, sp());
    f.append(exit, InstData::ArrayClear { array: 0 }, sp());
    ret(&mut f, exit);
    f
}

fn module() -> Module {
    let mut m = Module {
        source_name: "a.stp".into(),
        max_string_len: MSL,
        arrays: arrays(),
        ..Module::default()
    };
    m.formats.push(stapc_bpf::Format {
        text: "%d %s\n".into(),
        args: vec![ArgKind::Long, ArgKind::Str],
    });
    m.formats.push(stapc_bpf::Format {
        text: "%d\n".into(),
        args: vec![ArgKind::Long],
    });
    m.probes.push(ProbeFunction {
        kind: ProbeKind::Begin { priority: 0 },
        point: "begin".into(),
        func: begin_fn(),
    });
    m.probes.push(ProbeFunction {
        kind: ProbeKind::Timer {
            period_ns: 1_000_000,
            profile: false,
        },
        point: "timer.ms(1)".into(),
        func: kernel_fn(),
    });
    m
}

/// Whether some instruction sets a helper argument register to `r10 - 512`.
fn uses_stack_buffer(insns: &[Insn]) -> bool {
    insns
        .windows(2)
        .any(|w| w[0].code == BPF_ALU64 | BPF_MOV | BPF_X && w[0].src == 10 && w[1].imm == -512)
}

#[test]
fn compile_adds_one_hash_map_per_array_after_the_runtime_maps() {
    let o = crate::compile(&module(), &new_target(), &SourceMap::new()).unwrap();
    assert_eq!(o.maps.len(), 6);
    let (a, b) = (&o.maps[4], &o.maps[5]);
    assert_eq!(
        (a.kind, a.key_size, a.value_size, a.max_entries),
        (MapKind::Hash, 8, 8, 100)
    );
    assert_eq!(
        (b.kind, b.key_size, b.value_size, b.max_entries),
        (MapKind::Hash, MSL + 8, MSL, 4096)
    );
    assert_eq!(o.arrays.len(), 2);
    assert_eq!(o.arrays[1].map, 5);
    assert_eq!(o.arrays[1].keys, vec![ArgKind::Str, ArgKind::Long]);
    assert_eq!(o.arrays[1].value, Some(ArgKind::Str));
    // Programs name the array maps by their index.
    let maps: Vec<i32> = o.programs[1]
        .insns
        .iter()
        .filter(|i| i.is_lddw() && i.src == 1)
        .map(|i| i.imm)
        .collect();
    assert!(maps.contains(&4) && maps.contains(&5), "{maps:?}");
}

#[test]
fn kernel_array_access_uses_the_map_helpers() {
    for t in [new_target(), Target::new(KernelVersion::new(4, 14))] {
        let c =
            crate::compile_function_in(&kernel_fn(), &arrays(), &t, MSL, false, &SourceMap::new())
                .unwrap_or_else(|e| panic!("{e}"));
        checker::check(&c.alloc).unwrap_or_else(|e| panic!("{e}"));
        check_program(&c.insns);
        let calls = calls(&c.insns);
        for h in [
            helpers::MAP_LOOKUP_ELEM,
            helpers::MAP_UPDATE_ELEM,
            helpers::MAP_DELETE_ELEM,
        ] {
            assert!(calls.contains(&h), "target {}: {calls:?}", t.kernel);
        }
        assert!(calls.iter().all(|h| *h < helpers::STAPC_BASE));
        // ArrayAdd: an atomic add on the looked-up element.
        assert!(c
            .insns
            .iter()
            .any(|i| i.code == BPF_STX | BPF_ATOMIC | BPF_DW));
        // Before 4.18 keys and values go through the stack; after, scratch.
        let old = t.kernel < KernelVersion::new(4, 18);
        assert_eq!(uses_stack_buffer(&c.insns), old, "target {}", t.kernel);
        assert_eq!(
            c.alloc.vcode.stack_buffer,
            if old { MSL + 8 + MSL } else { 0 }
        );
        assert!(c.alloc.stack_size() + c.alloc.vcode.stack_buffer <= 512);
    }
}

#[test]
fn userspace_foreach_and_clear_call_stapc_helpers() {
    let c = crate::compile_function_in(
        &begin_fn(),
        &arrays(),
        &new_target(),
        MSL,
        true,
        &SourceMap::new(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    check_program(&c.insns);
    let calls = calls(&c.insns);
    for h in [
        helpers::STAPC_ARRAY_ITER_START,
        helpers::STAPC_ARRAY_ITER_NEXT,
        helpers::STAPC_ARRAY_ITER_END,
        helpers::STAPC_ARRAY_CLEAR,
    ] {
        assert!(calls.contains(&h), "{calls:?}");
    }
    // The spec: one long column, sorted by it, descending.
    let spec = helpers::iter_spec(&[false], false, Some((Some(0), true)));
    assert!(c.insns.iter().any(|i| i.dst == 2 && i.imm == spec));
}

#[test]
fn foreach_in_a_kernel_program_is_an_error_not_a_panic() {
    let r = crate::compile_function_in(
        &begin_fn(),
        &arrays(),
        &new_target(),
        MSL,
        false,
        &SourceMap::new(),
    );
    assert!(matches!(r, Err(crate::BackendError::MalformedIr { .. })));
    // An array index beyond the module's arrays, too.
    let r = crate::compile_function_in(
        &kernel_fn(),
        &arrays()[..1],
        &new_target(),
        MSL,
        false,
        &SourceMap::new(),
    );
    assert!(r.is_err());
}

#[test]
fn keys_too_large_for_an_old_kernels_stack_are_a_clear_error() {
    // Two 256-byte string columns and a 256-byte value: 768 bytes.
    let big = [ArrayInfo {
        name: "big".into(),
        keys: vec![ArgKind::Str, ArgKind::Str],
        value: ArgKind::Str,
        max_entries: 16,
        stat: None,
    }];
    let mut f = Function::new("timer_0");
    let b = f.create_block();
    let key = f.create_slot(512);
    let s = f.create_slot(256);
    f.append(
        b,
        InstData::StrConst {
            dst: s,
            value: "x".into(),
        },
        sp(),
    );
    for offset in [0, 256] {
        f.append(
            b,
            InstData::KeyStoreStr {
                key,
                offset,
                src: s,
            },
            sp(),
        );
    }
    f.append(
        b,
        InstData::ArraySetStr {
            array: 0,
            key,
            src: s,
        },
        sp(),
    );
    ret(&mut f, b);
    let old = Target::new(KernelVersion::new(4, 14));
    let r = crate::compile_function_in(&f, &big, &old, 256, false, &SourceMap::new());
    match r {
        Err(e @ crate::BackendError::ArrayKeyTooLarge { bytes: 768, .. }) => {
            assert_eq!(e.code(), "B0008");
            let d = e.to_diagnostic();
            assert!(
                d.notes.iter().any(|n| n.contains("4.18"))
                    && d.help.as_deref().is_some_and(|h| h.contains("4.18")),
                "{d:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Newer kernels read keys from scratch: no limit from the stack.
    assert!(
        crate::compile_function_in(&f, &big, &new_target(), 256, false, &SourceMap::new()).is_ok()
    );
}
