//! A tiny label-resolving program builder and a hand-written "backend" that
//! follows runtime.md (prologue, printf/exit/error records), for session tests.
#![allow(dead_code)]

use bpf::insn::*;
use bpf::object::{control, map_names, record};
use bpf::{ArgKind, ErrorMsg, Format, Insn, MapDef, MapKind, Object, ProbeKind, Program};
use std::collections::HashMap;

pub const MAXSTR: u32 = 16;
pub const GLOBALS: u32 = 0;
pub const CONTROL: u32 = 1;
pub const SCRATCH: u32 = 2;
pub const OUTPUT: u32 = 3;

/// Registers the prologue sets up.
pub const CTX: u8 = 6;
pub const CTL: u8 = 7;
pub const SCR: u8 = 8;
pub const GLB: u8 = 9;

#[derive(Clone, Copy)]
pub enum A<'a> {
    Reg(u8),
    Imm(i32),
    Str(&'a [u8]),
}

pub struct B {
    pub insns: Vec<Insn>,
    fixups: Vec<(usize, String)>,
    labels: HashMap<String, usize>,
    ringbuf: bool,
}

impl B {
    /// A program with the standard prologue (control, scratch, globals).
    pub fn new(ringbuf: bool) -> B {
        let mut b = B {
            insns: Vec::new(),
            fixups: Vec::new(),
            labels: HashMap::new(),
            ringbuf,
        };
        b.i(Insn::mov64_reg(CTX, 1));
        for (map, reg, check_exit) in [
            (CONTROL, CTL, true),
            (SCRATCH, SCR, false),
            (GLOBALS, GLB, false),
        ] {
            b.i(Insn::st(BPF_W, 10, -4, 0));
            b.i(Insn::mov64_reg(2, 10));
            b.i(Insn::alu64_imm(BPF_ADD, 2, -4));
            b.ld(Insn::ld_map(1, map));
            b.i(Insn::call(bpf::helpers::MAP_LOOKUP_ELEM));
            b.jmp(Insn::jmp_imm(BPF_JEQ, 0, 0, 0), "out");
            b.i(Insn::mov64_reg(reg, 0));
            if check_exit {
                b.i(Insn::ldx(BPF_DW, 1, reg, control::EXIT_FLAG));
                b.jmp(Insn::jmp_imm(BPF_JNE, 1, 0, 0), "out");
            }
        }
        b
    }

    pub fn i(&mut self, x: Insn) -> &mut Self {
        self.insns.push(x);
        self
    }

    pub fn ld(&mut self, x: [Insn; 2]) -> &mut Self {
        self.insns.extend_from_slice(&x);
        self
    }

    pub fn jmp(&mut self, x: Insn, label: &str) -> &mut Self {
        self.fixups.push((self.insns.len(), label.to_string()));
        self.insns.push(x);
        self
    }

    pub fn label(&mut self, name: &str) -> &mut Self {
        self.labels.insert(name.to_string(), self.insns.len());
        self
    }

    fn send(&mut self, size: usize) {
        if self.ringbuf {
            self.ld(Insn::ld_map(1, OUTPUT));
            self.i(Insn::mov64_reg(2, SCR));
            self.i(Insn::mov64_imm(3, size as i32));
            self.i(Insn::mov64_imm(4, 0));
            self.i(Insn::call(bpf::helpers::RINGBUF_OUTPUT));
        } else {
            self.i(Insn::mov64_reg(1, CTX));
            self.ld(Insn::ld_map(2, OUTPUT));
            self.ld(Insn::lddw(3, bpf::helpers::BPF_F_CURRENT_CPU));
            self.i(Insn::mov64_reg(4, SCR));
            self.i(Insn::mov64_imm(5, size as i32));
            self.i(Insn::call(bpf::helpers::PERF_EVENT_OUTPUT));
        }
    }

    fn header(&mut self, kind: u32, id: u32) {
        self.i(Insn::st(BPF_W, SCR, 0, kind as i32));
        self.i(Insn::st(BPF_W, SCR, 4, id as i32));
    }

    fn args(&mut self, args: &[A]) -> usize {
        let mut off = 8i16;
        for a in args {
            match *a {
                A::Reg(r) => {
                    self.i(Insn::stx(BPF_DW, SCR, r, off));
                    off += 8;
                }
                A::Imm(v) => {
                    self.i(Insn::st(BPF_DW, SCR, off, v));
                    off += 8;
                }
                A::Str(s) => {
                    for k in 0..MAXSTR as usize {
                        let c = s.get(k).copied().unwrap_or(0);
                        self.i(Insn::st(BPF_B, SCR, off + k as i16, c as i32));
                    }
                    off += MAXSTR as i16;
                }
            }
        }
        off as usize
    }

    pub fn printf(&mut self, format: u32, args: &[A]) -> &mut Self {
        self.header(record::PRINTF, format);
        let size = self.args(args);
        self.send(size);
        self
    }

    pub fn exit(&mut self) -> &mut Self {
        self.i(Insn::mov64_imm(1, 1));
        self.i(Insn::stx(BPF_DW, CTL, 1, control::EXIT_FLAG));
        self.header(record::EXIT, 0);
        self.send(8);
        self
    }

    /// Raise runtime error `id` (with a dynamic message when given) and return.
    pub fn error(&mut self, id: u32, msg: Option<&[u8]>) -> &mut Self {
        self.i(Insn::mov64_imm(1, 1));
        self.i(Insn::atomic(BPF_DW, CTL, 1, control::ERROR_COUNT, 0));
        self.i(Insn::stx(BPF_DW, CTL, 1, control::EXIT_FLAG));
        self.header(record::ERROR, id);
        let size = match msg {
            Some(m) => self.args(&[A::Str(m)]),
            None => 8,
        };
        self.send(size);
        self.jmp(Insn::ja(0), "out")
    }

    /// `*(u64 *)(globals + off) += 1` and leave the new value in r1.
    pub fn incr_global(&mut self, off: i16) -> &mut Self {
        self.i(Insn::mov64_imm(1, 1));
        self.i(Insn::atomic(BPF_DW, GLB, 1, off, 0));
        self.i(Insn::ldx(BPF_DW, 1, GLB, off))
    }

    pub fn finish(&mut self) -> Vec<Insn> {
        self.label("out");
        self.i(Insn::mov64_imm(0, 0));
        self.i(Insn::exit());
        for (at, l) in &self.fixups {
            let target = self.labels[l];
            let rel = target as i64 - *at as i64 - 1;
            self.insns[*at].off = rel as i16;
        }
        self.insns.clone()
    }
}

pub struct ObjBuilder {
    pub obj: Object,
    pub ringbuf: bool,
}

impl ObjBuilder {
    pub fn new(ringbuf: bool) -> ObjBuilder {
        let m = |name: &str, kind, key_size, value_size, max_entries| MapDef {
            name: name.into(),
            kind,
            key_size,
            value_size,
            max_entries,
            init: vec![],
        };
        let mut globals = m(map_names::GLOBALS, MapKind::Array, 4, 64, 1);
        globals.init = vec![(0u32.to_le_bytes().to_vec(), vec![0; 64])];
        let output = if ringbuf {
            m(map_names::OUTPUT, MapKind::RingBuf, 0, 0, 262144)
        } else {
            m(map_names::OUTPUT, MapKind::PerfEventArray, 4, 4, 0)
        };
        ObjBuilder {
            obj: Object {
                source_name: "t.stp".into(),
                programs: vec![],
                maps: vec![
                    globals,
                    m(
                        map_names::CONTROL,
                        MapKind::Array,
                        4,
                        control::VALUE_SIZE,
                        1,
                    ),
                    m(map_names::SCRATCH, MapKind::PerCpuArray, 4, 256, 1),
                    output,
                ],
                formats: vec![],
                errors: vec![],
                max_string_len: MAXSTR,
                control_map: CONTROL,
                output_map: OUTPUT,
                license: "GPL".into(),
                ..Default::default()
            },
            ringbuf,
        }
    }

    pub fn format(&mut self, text: &str, args: &[ArgKind]) -> u32 {
        self.obj.formats.push(Format {
            text: text.into(),
            args: args.to_vec(),
        });
        self.obj.formats.len() as u32 - 1
    }

    pub fn error(&mut self, message: &str, location: &str) -> u32 {
        self.obj.errors.push(ErrorMsg {
            message: message.into(),
            location: location.into(),
        });
        self.obj.errors.len() as u32 - 1
    }

    pub fn program(&mut self, kind: ProbeKind, body: impl FnOnce(&mut B)) -> &mut Self {
        let mut b = B::new(self.ringbuf);
        body(&mut b);
        let insns = b.finish();
        let n = self.obj.programs.len();
        self.obj.programs.push(Program {
            fields: Vec::new(),
            name: format!("prog_{n}"),
            kind,
            point: "point".into(),
            insns,
            lines: vec![],
        });
        self
    }
}

pub fn begin(priority: i64) -> ProbeKind {
    ProbeKind::Begin { priority }
}
pub fn end(priority: i64) -> ProbeKind {
    ProbeKind::End { priority }
}
pub fn error_probe() -> ProbeKind {
    ProbeKind::Error { priority: 0 }
}
pub fn timer_ms(ms: u64) -> ProbeKind {
    ProbeKind::Timer {
        period_ns: ms * 1_000_000,
        profile: false,
    }
}
