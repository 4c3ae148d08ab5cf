//! The textual IR (`-p3`): cranelift-like, stable and deterministic. The
//! module header lists the globals layout, the formats and the runtime
//! errors; each function lists its slots, then its blocks in layout order.
//! With a `SourceMap`, instructions carry a `; file:line:col` comment.

use crate::ir::{
    BinaryOp, Function, Inst, InstData, IntCC, IterSort, Module, OutArg, ProbeFunction, UnaryOp,
    Value,
};
use stapc_bpf::ArgKind;
use stapc_frontend::SourceMap;
use std::fmt::Write;

/// Print a whole module without source locations.
pub fn print_module(module: &Module) -> String {
    print_module_with(module, None)
}

/// Print a whole module; with `sm`, every instruction gets a location comment.
pub fn print_module_with(module: &Module, sm: Option<&SourceMap>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "; module {}", module.source_name);
    let _ = writeln!(out, "; max_string_len {}", module.max_string_len);
    let _ = writeln!(out, "globals size {}", module.globals.size);
    for (i, word) in module.globals.init.chunks(8).enumerate() {
        if word.iter().any(|&b| b != 0) {
            let hex: String = word.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(out, "    +{}: {}", i * 8, hex);
        }
    }
    for (i, f) in module.formats.iter().enumerate() {
        let kinds: Vec<&str> = f
            .args
            .iter()
            .map(|k| match k {
                ArgKind::Long => "long",
                ArgKind::Str => "str",
            })
            .collect();
        let _ = writeln!(out, "format{} = {:?} ({})", i, f.text, kinds.join(", "));
    }
    for (i, e) in module.errors.iter().enumerate() {
        let _ = writeln!(out, "error{} = {:?} {}", i, e.message, e.location);
    }
    // ---- arrays ----
    for (i, a) in module.arrays.iter().enumerate() {
        let kind = |k: &ArgKind| match k {
            ArgKind::Long => "long",
            ArgKind::Str => "str",
        };
        let keys: Vec<&str> = a.keys.iter().map(kind).collect();
        let _ = writeln!(
            out,
            "array{} = {}[{}] -> {} (max {})",
            i,
            a.name,
            keys.join(", "),
            kind(&a.value),
            a.max_entries
        );
    }
    for p in &module.probes {
        out.push('\n');
        print_probe(&mut out, p, sm);
    }
    // ---- functions/strings ----
    for (i, f) in module.functions.iter().enumerate() {
        out.push('\n');
        let _ = writeln!(out, "; fn{i}");
        out.push_str(&print_function(f, sm));
    }
    out
}

fn print_probe(out: &mut String, p: &ProbeFunction, sm: Option<&SourceMap>) {
    let _ = writeln!(
        out,
        "function {} {{   ; probe {}  ({})",
        p.func.name,
        p.point,
        p.kind.section_name()
    );
    print_body(out, &p.func, sm, &|_| Vec::new());
    out.push_str("}\n");
}

/// Print one function (`function NAME { … }`).
pub fn print_function(func: &Function, sm: Option<&SourceMap>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "function {} {{", func.name);
    print_body(&mut out, func, sm, &|_| Vec::new());
    out.push_str("}\n");
    out
}

/// Print one function with `notes(inst)` as `; ` lines under each
/// instruction (the verifier's annotated listing).
pub fn print_function_annotated(func: &Function, notes: &dyn Fn(Inst) -> Vec<String>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "function {} {{", func.name);
    print_body(&mut out, func, None, notes);
    out.push_str("}\n");
    out
}

fn print_body(
    out: &mut String,
    func: &Function,
    sm: Option<&SourceMap>,
    notes: &dyn Fn(Inst) -> Vec<String>,
) {
    for (slot, data) in func.slots.iter() {
        let _ = writeln!(out, "    {} = slot {}", slot, data.size);
    }
    for &block in &func.layout {
        let Some(bd) = func.blocks.get(block) else {
            let _ = writeln!(out, "{block}:   ; missing block");
            continue;
        };
        if bd.params.is_empty() {
            let _ = writeln!(out, "{block}:");
        } else {
            let _ = writeln!(out, "{}({}):", block, values(&bd.params));
        }
        for &inst in &bd.insts {
            let mut line = String::from("    ");
            if let Some(v) = func.results.get(inst).and_then(|r| r.expand()) {
                let _ = write!(line, "{v} = ");
            }
            match func.insts.get(inst) {
                Some(data) => line.push_str(&inst_text(data)),
                None => line.push_str("<missing instruction>"),
            }
            if let Some(sm) = sm {
                let span = func.srclocs[inst];
                if (span.file.0 as usize) < sm.files().len() && span != Default::default() {
                    let loc = sm.location(span);
                    while line.len() < 40 {
                        line.push(' ');
                    }
                    let _ = write!(line, " ; {loc}");
                }
            }
            out.push_str(&line);
            out.push('\n');
            for note in notes(inst) {
                let _ = writeln!(out, "    ; {note}");
            }
        }
    }
}

fn values(vs: &[Value]) -> String {
    vs.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn target(block: crate::ir::Block, args: &[Value]) -> String {
    if args.is_empty() {
        block.to_string()
    } else {
        format!("{}({})", block, values(args))
    }
}

pub(crate) fn binary_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "iadd",
        BinaryOp::Sub => "isub",
        BinaryOp::Mul => "imul",
        BinaryOp::SDiv => "sdiv",
        BinaryOp::SRem => "srem",
        BinaryOp::And => "band",
        BinaryOp::Or => "bor",
        BinaryOp::Xor => "bxor",
        BinaryOp::Shl => "ishl",
        BinaryOp::AShr => "sshr",
        BinaryOp::LShr => "ushr",
    }
}

fn cc_name(cc: IntCC) -> &'static str {
    match cc {
        IntCC::Eq => "eq",
        IntCC::Ne => "ne",
        IntCC::Slt => "slt",
        IntCC::Sle => "sle",
        IntCC::Sgt => "sgt",
        IntCC::Sge => "sge",
        IntCC::Ult => "ult",
        IntCC::Ule => "ule",
        IntCC::Ugt => "ugt",
        IntCC::Uge => "uge",
    }
}

/// The text of one instruction, without its result.
pub fn inst_text(data: &InstData) -> String {
    match data {
        InstData::Iconst { imm } => format!("iconst {imm}"),
        InstData::Unary { op, arg } => {
            let name = match op {
                UnaryOp::Neg => "ineg",
                UnaryOp::BitNot => "bnot",
            };
            format!("{name} {arg}")
        }
        InstData::Binary { op, args } => format!("{} {}, {}", binary_name(*op), args[0], args[1]),
        InstData::Icmp { cond, args } => {
            format!("icmp {} {}, {}", cc_name(*cond), args[0], args[1])
        }
        InstData::LoadGlobal { offset } => format!("load_global +{offset}"),
        InstData::StoreGlobal { offset, arg } => format!("store_global +{offset}, {arg}"),
        InstData::AtomicAddGlobal { offset, arg } => format!("atomic_add_global +{offset}, {arg}"),
        InstData::StrConst { dst, value } => format!("str_const {dst}, {value:?}"),
        InstData::StrLoadGlobal { dst, offset } => format!("str_load_global {dst}, +{offset}"),
        InstData::StrStoreGlobal { offset, src } => format!("str_store_global +{offset}, {src}"),
        InstData::StrCopy { dst, src } => format!("str_copy {dst}, {src}"),
        InstData::StrConcat { dst, args } => format!("str_concat {dst}, {}, {}", args[0], args[1]),
        InstData::StrCompare { args } => format!("str_compare {}, {}", args[0], args[1]),
        InstData::StrCompareConst { arg, value } => format!("str_compare {arg}, {value:?}"),
        InstData::Context { op } => format!("context {}", format!("{op:?}").to_lowercase()),
        InstData::StrContext { dst, op } => {
            format!("str_context {dst}, {}", format!("{op:?}").to_lowercase())
        }
        InstData::Printf { format, args } => {
            let a: Vec<String> = args
                .iter()
                .map(|a| match a {
                    OutArg::Long(v) => v.to_string(),
                    OutArg::Str(s) => s.to_string(),
                })
                .collect();
            format!("printf format{}({})", format, a.join(", "))
        }
        InstData::Exit => "exit".into(),
        // ---- arrays ----
        InstData::KeyStore { key, offset, arg } => format!("key_store {key}+{offset}, {arg}"),
        InstData::KeyStoreStr { key, offset, src } => {
            format!("key_store_str {key}+{offset}, {src}")
        }
        InstData::KeyLoad { key, offset } => format!("key_load {key}+{offset}"),
        InstData::KeyLoadStr { dst, key, offset } => format!("key_load_str {dst}, {key}+{offset}"),
        InstData::ArrayGet { array, key } => format!("array_get array{array}[{key}]"),
        InstData::ArrayGetStr { dst, array, key } => {
            format!("array_get_str {dst}, array{array}[{key}]")
        }
        InstData::ArraySet { array, key, arg } => format!("array_set array{array}[{key}], {arg}"),
        InstData::ArraySetStr { array, key, src } => {
            format!("array_set_str array{array}[{key}], {src}")
        }
        InstData::ArrayAdd { array, key, arg } => format!("array_add array{array}[{key}], {arg}"),
        InstData::ArrayIn { array, key } => format!("array_in array{array}[{key}]"),
        InstData::ArrayDelete { array, key } => format!("array_delete array{array}[{key}]"),
        InstData::ArrayClear { array } => format!("array_clear array{array}"),
        InstData::ArrayIterStart { array, sort, limit } => {
            let sort = match sort {
                IterSort::Unsorted => "unsorted".to_string(),
                IterSort::Key { column, descending } => {
                    format!("key{}{}", column, if *descending { "-" } else { "+" })
                }
                IterSort::Value { descending } => {
                    format!("value{}", if *descending { "-" } else { "+" })
                }
            };
            format!("array_iter_start array{array}, {sort}, limit {limit}")
        }
        InstData::ArrayIterNext { handle, key } => format!("array_iter_next {handle}, {key}"),
        InstData::ArrayIterEnd { handle } => format!("array_iter_end {handle}"),
        // ---- statistics ----
        InstData::StatAdd { stat, arg, key } => {
            format!("stat_add stat{stat}{}, {arg}", keyed(key))
        }
        InstData::StatRead { stat, op, key } => {
            format!("stat_read.{} stat{stat}{}", op.name(), keyed(key))
        }
        InstData::StatClear { stat } => format!("stat_clear stat{stat}"),
        InstData::PrintHist { hist, key } => format!("print_hist hist{hist}{}", keyed(key)),
        InstData::Jump { dest, args } => format!("jump {}", target(*dest, args)),
        InstData::Brif {
            cond,
            then_dest,
            then_args,
            else_dest,
            else_args,
        } => format!(
            "brif {}, {}, {}",
            cond,
            target(*then_dest, then_args),
            target(*else_dest, else_args)
        ),
        InstData::Return => "return".into(),
        InstData::Trap { error } => format!("trap error{error}"),
        InstData::TrapMsg { error, msg } => format!("trap_msg error{error}, {msg}"),
        // ---- functions/strings ----
        InstData::StrOp {
            op,
            dst,
            srcs,
            args,
        } => {
            let mut ops: Vec<String> = dst.iter().map(|d| d.to_string()).collect();
            ops.extend(srcs.iter().map(|s| s.to_string()));
            ops.extend(args.iter().map(|v| v.to_string()));
            format!(
                "str_op {} {}",
                format!("{op:?}").to_lowercase(),
                ops.join(", ")
            )
        }
        InstData::Call { func, args } => {
            let a: Vec<String> = args.iter().map(|v| v.to_string()).collect();
            format!("call fn{func}({})", a.join(", "))
        }
        InstData::Arg { index } => format!("arg {index}"),
        InstData::ProbeRead {
            space,
            dst,
            addr,
            size,
            string,
        } => format!(
            "probe_read.{}{} {dst}, {addr}, {size}",
            match space {
                crate::ir::MemSpace::Kernel => "kernel",
                crate::ir::MemSpace::User => "user",
            },
            if *string { ".str" } else { "" }
        ),
        InstData::LoadCtx {
            offset,
            size,
            signed,
        } => format!(
            "load_ctx +{offset}, {}{}",
            if *signed { "s" } else { "u" },
            size * 8
        ),
        InstData::ReturnValue { arg } => format!("return {arg}"),
        InstData::Sprintf { dst, format, args } => {
            let a: Vec<String> = args
                .iter()
                .map(|a| match a {
                    OutArg::Long(v) => v.to_string(),
                    OutArg::Str(s) => s.to_string(),
                })
                .collect();
            format!("sprintf {dst}, format{}({})", format, a.join(", "))
        }
    }
}

/// `[key]` after an element of an array of statistics.
fn keyed(key: &Option<crate::ir::Slot>) -> String {
    key.map(|k| format!("[{k}]")).unwrap_or_default()
}
