//! The mini-verifier's corpus format (tests/verifier_corpus/): a program in
//! the bpf_conformance assembly syntax with `;` header lines saying what the
//! verifier must answer, on which program type, target and maps.
//!
//! ```text
//! ; expect: R0 invalid mem access 'map_value_or_null'   (or `accept`)
//! ; prog-type: kprobe
//! ; kernel: 6.18          optional, default 6.18
//! ; privileged: true      optional, default true
//! ; userspace: false      optional (stapc begin/end/error programs)
//! ; insn: 7               optional, the failing instruction
//! ; map: counts hash 4 16 64     name kind key_size value_size max_entries
//! ldmap %r1, counts              lddw r1 = map (by name)
//! ldmapval %r1, counts, 8        lddw r1 = &value of map + 8
//! .insn 0x95, 1, 0, 0, 0         a raw slot: code, dst, src, off, imm
//! ```
//! Other `;` lines are comments.

use bpf::asm::assemble;
use bpf::insn::{Insn, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE};
use bpf::{KernelVersion, MapDef, MapKind, ProgramType, Target};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Accept,
    /// A substring of the rejection message.
    Reject(String),
}

#[derive(Clone, Debug)]
pub struct CorpusProgram {
    pub name: String,
    pub expect: Expect,
    pub prog_type: ProgramType,
    pub target: Target,
    pub userspace: bool,
    pub insn: Option<usize>,
    pub maps: Vec<MapDef>,
    pub insns: Vec<Insn>,
}

const MAP_FD_TAG: u32 = 0x5ea1_0000;
const MAP_VALUE_TAG: u32 = 0x5ea2_0000;
/// `mov %r9, RAW_TAG + k` stands for the k-th `.insn` until patched.
const RAW_TAG: i32 = 0x7ead_0000;

pub fn prog_type_from_name(s: &str) -> Option<ProgramType> {
    Some(match s {
        "socket_filter" | "socket" => ProgramType::SocketFilter,
        "kprobe" => ProgramType::Kprobe,
        "tracepoint" => ProgramType::Tracepoint,
        "perf_event" => ProgramType::PerfEvent,
        "raw_tracepoint" | "raw_tp" => ProgramType::RawTracepoint,
        "syscall" => ProgramType::Syscall,
        _ => return None,
    })
}

pub fn map_kind_from_name(s: &str) -> Option<MapKind> {
    Some(match s {
        "array" => MapKind::Array,
        "hash" => MapKind::Hash,
        "percpu_array" => MapKind::PerCpuArray,
        "percpu_hash" => MapKind::PerCpuHash,
        "lru_hash" => MapKind::LruHash,
        "perf_event_array" => MapKind::PerfEventArray,
        "ringbuf" => MapKind::RingBuf,
        _ => return None,
    })
}

fn bool_of(s: &str) -> Result<bool, String> {
    match s {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(format!("expected true or false, got {s}")),
    }
}

/// Parses one corpus file; `name` is for messages.
pub fn parse(name: &str, text: &str) -> Result<CorpusProgram, String> {
    let mut expect = None;
    let mut prog_type = ProgramType::Kprobe;
    let mut kernel = KernelVersion::new(6, 18);
    let mut privileged = true;
    let mut userspace = false;
    let mut insn = None;
    let mut maps: Vec<MapDef> = Vec::new();
    let mut body = String::new();
    let mut raws: Vec<Insn> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let err = |m: String| format!("{name}:{}: {m}", n + 1);
        let t = line.trim();
        if let Some(h) = t.strip_prefix(';') {
            if let Some((k, v)) = h.split_once(':') {
                let v = v.trim();
                match k.trim() {
                    "expect" => {
                        expect = Some(if v == "accept" {
                            Expect::Accept
                        } else {
                            Expect::Reject(v.to_string())
                        })
                    }
                    "prog-type" => {
                        prog_type = prog_type_from_name(v)
                            .ok_or_else(|| err(format!("unknown program type {v}")))?
                    }
                    "kernel" => {
                        kernel = KernelVersion::parse(v)
                            .ok_or_else(|| err(format!("bad kernel version {v}")))?
                    }
                    "privileged" => privileged = bool_of(v).map_err(err)?,
                    "userspace" => userspace = bool_of(v).map_err(err)?,
                    "insn" => insn = Some(v.parse().map_err(|_| err(format!("bad insn {v}")))?),
                    "map" => {
                        let f: Vec<&str> = v.split_whitespace().collect();
                        let [mname, kind, k, val, max] = f[..] else {
                            return Err(err("map: name kind key value max".into()));
                        };
                        let num =
                            |s: &str| s.parse::<u32>().map_err(|_| err(format!("bad number {s}")));
                        maps.push(MapDef {
                            name: mname.to_string(),
                            kind: map_kind_from_name(kind)
                                .ok_or_else(|| err(format!("unknown map kind {kind}")))?,
                            key_size: num(k)?,
                            value_size: num(val)?,
                            max_entries: num(max)?,
                            init: vec![],
                        });
                    }
                    _ => {}
                }
            }
            body.push('\n');
            continue;
        }
        // Map pseudo-instructions become tagged `lddw`s, patched below.
        let map_index = |m: &str| {
            maps.iter()
                .position(|d| d.name == m.trim())
                .ok_or_else(|| err(format!("unknown map {m}")))
        };
        if let Some(rest) = t.strip_prefix(".insn ") {
            let f: Vec<&str> = rest.split(',').map(str::trim).collect();
            let num = |s: &str| -> Result<i64, String> {
                let (neg, d) = match s.strip_prefix('-') {
                    Some(d) => (true, d),
                    None => (false, s),
                };
                let v = match d.strip_prefix("0x") {
                    Some(h) => i64::from_str_radix(h, 16),
                    None => d.parse(),
                }
                .map_err(|_| err(format!("bad number {s}")))?;
                Ok(if neg { -v } else { v })
            };
            let [c, d, s, o, i] = f[..] else {
                return Err(err(".insn code, dst, src, off, imm".into()));
            };
            raws.push(Insn::new(
                num(c)? as u8,
                num(d)? as u8,
                num(s)? as u8,
                num(o)? as i16,
                num(i)? as i32,
            ));
            body.push_str(&format!("mov %r9, {}\n", RAW_TAG + raws.len() as i32 - 1));
        } else if let Some(rest) = t.strip_prefix("ldmapval ") {
            let f: Vec<&str> = rest.split(',').map(str::trim).collect();
            let [r, m, off] = f[..] else {
                return Err(err("ldmapval %rN, map, offset".into()));
            };
            let idx = map_index(m)? as u64;
            let off: u32 = off.parse().map_err(|_| err(format!("bad offset {off}")))?;
            let imm = ((MAP_VALUE_TAG as u64 | idx) << 32) | off as u64;
            body.push_str(&format!("lddw {r}, {imm:#x}\n"));
        } else if let Some(rest) = t.strip_prefix("ldmap ") {
            let Some((r, m)) = rest.split_once(',') else {
                return Err(err("ldmap %rN, map".into()));
            };
            let idx = map_index(m)? as u64;
            let imm = (MAP_FD_TAG as u64 | idx) << 32;
            body.push_str(&format!("lddw {}, {imm:#x}\n", r.trim()));
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    let expect = expect.ok_or_else(|| format!("{name}: no `; expect:` line"))?;
    let mut insns = assemble(&body).map_err(|e| format!("{name}:{e}"))?;
    for slot in insns.iter_mut() {
        let k = slot.imm.wrapping_sub(RAW_TAG);
        if *slot == Insn::mov64_imm(9, slot.imm) && (0..raws.len() as i32).contains(&k) {
            *slot = raws[k as usize];
        }
    }
    let mut i = 0;
    while i + 1 < insns.len() {
        if insns[i].is_lddw() && insns[i].src == 0 {
            let hi = insns[i + 1].imm as u32;
            let tag = hi & 0xffff_0000;
            if tag == MAP_FD_TAG || tag == MAP_VALUE_TAG {
                let idx = (hi & 0xffff) as i32;
                let off = insns[i].imm;
                insns[i].src = if tag == MAP_FD_TAG {
                    BPF_PSEUDO_MAP_FD
                } else {
                    BPF_PSEUDO_MAP_VALUE
                };
                insns[i].imm = idx;
                insns[i + 1].imm = if tag == MAP_FD_TAG { 0 } else { off };
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    let mut target = Target::new(kernel);
    target.privileged = privileged;
    Ok(CorpusProgram {
        name: name.to_string(),
        expect,
        prog_type,
        target,
        userspace,
        insn,
        maps,
        insns,
    })
}

/// A defect [`generate`] can plant in an otherwise valid program, with the
/// message the verifier must give for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {
    /// A lookup result dereferenced without its NULL check.
    MissingNullCheck,
    /// A register read before any write.
    UninitRegister,
    /// A map value accessed past its end.
    MapValueOverrun,
    /// A read of stack never written (portable rules).
    UninitStack,
}

impl Defect {
    pub const ALL: [Defect; 4] = [
        Defect::MissingNullCheck,
        Defect::UninitRegister,
        Defect::MapValueOverrun,
        Defect::UninitStack,
    ];

    pub fn message(self) -> &'static str {
        match self {
            Defect::MissingNullCheck => "invalid mem access 'map_value_or_null'",
            Defect::UninitRegister => "!read_ok",
            Defect::MapValueOverrun => "invalid access to map value",
            Defect::UninitStack => "invalid read from stack",
        }
    }
}

/// A small deterministic generator (xorshift64*), so generated programs are
/// the same on every run and in the kernel comparison.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// A random straight-line kprobe program of ALU operations on scalars,
/// stack stores and loads, helper calls, short forward branches and map
/// lookups with a NULL check and in-bounds accesses — valid by
/// construction, unless `defect` plants exactly one error (at the end, so
/// everything before it is valid).
pub fn generate(seed: u64, defect: Option<Defect>) -> CorpusProgram {
    use bpf::insn::*;
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let value_size = rng.pick(&[8u32, 16, 32, 64]);
    let maps = vec![MapDef {
        name: "m".into(),
        kind: if rng.below(2) == 0 {
            MapKind::Hash
        } else {
            MapKind::Array
        },
        key_size: 4,
        value_size,
        max_entries: 16,
        init: vec![],
    }];
    let mut out: Vec<Insn> = Vec::new();
    // r6-r9 hold scalars (they survive calls); slots[k] = bytes known
    // written at fp-8(k+1) (0 = never).
    let scalars = [6u8, 7, 8, 9];
    for &r in &scalars {
        out.push(Insn::mov64_imm(r, (rng.next() >> 40) as i32 - 0x80_0000));
    }
    let mut slots = [0u8; 16];
    let steps = 5 + rng.below(30);
    for _ in 0..steps {
        let dst = rng.pick(&scalars);
        let src = rng.pick(&scalars);
        match rng.below(8) {
            0..=2 => {
                let alu32 = rng.below(3) == 0;
                let class = if alu32 { BPF_ALU } else { BPF_ALU64 };
                let op = rng.pick(&[
                    BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD,
                    BPF_XOR, BPF_MOV, BPF_ARSH, BPF_NEG,
                ]);
                if op == BPF_NEG {
                    out.push(Insn::new(class | BPF_NEG, dst, 0, 0, 0));
                } else if rng.below(2) == 0 && !matches!(op, BPF_LSH | BPF_RSH | BPF_ARSH) {
                    out.push(Insn::new(class | op | BPF_X, dst, src, 0, 0));
                } else {
                    let width = if alu32 { 32 } else { 64 };
                    let imm = match op {
                        BPF_LSH | BPF_RSH | BPF_ARSH => rng.below(width) as i32,
                        BPF_DIV | BPF_MOD => 1 + rng.below(1000) as i32,
                        _ => (rng.next() >> 48) as i32 - 0x8000,
                    };
                    out.push(Insn::new(class | op | BPF_K, dst, 0, 0, imm));
                }
            }
            3 => {
                let k = rng.below(16) as usize;
                let size = rng.pick(&[BPF_DW, BPF_W, BPF_H, BPF_B]);
                let off = -8 * (k as i16 + 1);
                if rng.below(2) == 0 {
                    out.push(Insn::stx(size, 10, src, off));
                } else {
                    out.push(Insn::st(size, 10, off, rng.below(1000) as i32));
                }
                let n = match size {
                    BPF_DW => 8,
                    BPF_W => 4,
                    BPF_H => 2,
                    _ => 1,
                };
                slots[k] = slots[k].max(n);
            }
            4 => {
                let written: Vec<usize> = (0..16).filter(|&k| slots[k] > 0).collect();
                if let Some(&k) = written.get(rng.below(written.len().max(1) as u64) as usize) {
                    let size = match slots[k] {
                        8 => rng.pick(&[BPF_DW, BPF_W, BPF_H, BPF_B]),
                        4 => rng.pick(&[BPF_W, BPF_H, BPF_B]),
                        2 => rng.pick(&[BPF_H, BPF_B]),
                        _ => BPF_B,
                    };
                    out.push(Insn::ldx(size, dst, 10, -8 * (k as i16 + 1)));
                }
            }
            5 => {
                out.push(Insn::call(rng.pick(&[5, 7, 8, 14])));
                out.push(Insn::mov64_reg(dst, 0));
            }
            6 => {
                // if (dst op imm) skip one instruction
                let op = rng.pick(&[
                    BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSLT,
                    BPF_JSET,
                ]);
                let class = if rng.below(3) == 0 {
                    BPF_JMP32
                } else {
                    BPF_JMP
                };
                out.push(Insn::new(
                    class | op | BPF_K,
                    dst,
                    0,
                    1,
                    rng.below(500) as i32,
                ));
                out.push(Insn::alu64_imm(BPF_ADD, dst, 1));
            }
            _ => {
                // key at fp-128 (outside the scalar slots), lookup, check,
                // then a bounded access.
                out.push(Insn::st(BPF_W, 10, -128, rng.below(16) as i32));
                out.push(Insn::mov64_reg(2, 10));
                out.push(Insn::alu64_imm(BPF_ADD, 2, -128));
                out.extend(Insn::ld_map(1, 0));
                out.push(Insn::call(bpf::helpers::MAP_LOOKUP_ELEM));
                let size = rng.pick(&[BPF_DW, BPF_W, BPF_B]);
                let n: u32 = match size {
                    BPF_DW => 8,
                    BPF_W => 4,
                    _ => 1,
                };
                let variable = rng.below(2) == 0;
                let body: Vec<Insn> = if variable {
                    // index masked to a power of two that keeps n bytes inside
                    let room = value_size - n;
                    let mask = if room == 0 {
                        0
                    } else {
                        (1u32 << (31 - room.leading_zeros())) - 1
                    };
                    vec![
                        Insn::mov64_reg(1, src),
                        Insn::alu64_imm(BPF_AND, 1, mask as i32),
                        Insn::alu64_reg(BPF_ADD, 0, 1),
                        Insn::ldx(size, dst, 0, 0),
                    ]
                } else {
                    let off = rng.below((value_size - n + 1) as u64) as i16;
                    if rng.below(2) == 0 {
                        vec![Insn::ldx(size, dst, 0, off)]
                    } else {
                        vec![Insn::stx(size, 0, src, off)]
                    }
                };
                out.push(Insn::jmp_imm(BPF_JEQ, 0, 0, body.len() as i16));
                out.extend(body);
            }
        }
    }
    let mut privileged = true;
    match defect {
        None => {}
        Some(Defect::MissingNullCheck) => {
            // A key the verifier cannot know, so even an array lookup may fail.
            out.push(Insn::call(bpf::helpers::GET_PRANDOM_U32));
            out.push(Insn::stx(BPF_W, 10, 0, -128));
            out.push(Insn::mov64_reg(2, 10));
            out.push(Insn::alu64_imm(BPF_ADD, 2, -128));
            out.extend(Insn::ld_map(1, 0));
            out.push(Insn::call(bpf::helpers::MAP_LOOKUP_ELEM));
            out.push(Insn::ldx(BPF_B, 6, 0, 0));
        }
        Some(Defect::UninitRegister) => {
            out.push(Insn::call(bpf::helpers::KTIME_GET_NS));
            out.push(Insn::alu64_reg(BPF_ADD, 6, rng.pick(&[1u8, 2, 3, 4, 5])));
        }
        Some(Defect::MapValueOverrun) => {
            out.push(Insn::st(BPF_W, 10, -128, 0));
            out.push(Insn::mov64_reg(2, 10));
            out.push(Insn::alu64_imm(BPF_ADD, 2, -128));
            out.extend(Insn::ld_map(1, 0));
            out.push(Insn::call(bpf::helpers::MAP_LOOKUP_ELEM));
            out.push(Insn::jmp_imm(BPF_JEQ, 0, 0, 1));
            out.push(Insn::ldx(BPF_W, 6, 0, (value_size - 3) as i16));
        }
        Some(Defect::UninitStack) => {
            privileged = false;
            out.push(Insn::ldx(BPF_DW, 6, 10, -256));
        }
    }
    out.push(Insn::mov64_reg(0, 6));
    out.push(Insn::exit());
    let mut target = Target::new(KernelVersion::new(6, 18));
    target.privileged = privileged;
    CorpusProgram {
        name: format!(
            "generated/{seed}{}",
            defect.map(|d| format!("-{d:?}")).unwrap_or_default()
        ),
        expect: match defect {
            None => Expect::Accept,
            Some(d) => Expect::Reject(d.message().into()),
        },
        prog_type: ProgramType::Kprobe,
        target,
        userspace: false,
        insn: None,
        maps,
        insns: out,
    }
}

/// A random program with no promise of validity, for differential testing
/// against the kernel: loads and stores at random offsets and sizes
/// through the stack, the context, map values (checked or not) and
/// numbers; ALU on anything, pointer arithmetic, forward branches on
/// registers and constants, helper calls with plausible arguments. Always
/// ends in `exit`; jumps only go forward, so most programs reach the
/// simulation instead of failing the shape checks.
pub fn generate_wild(seed: u64) -> CorpusProgram {
    use bpf::insn::*;
    let mut rng = Rng(seed.wrapping_mul(0xd1b5_4a32_d192_ed03) | 1);
    let value_size = rng.pick(&[4u32, 8, 16, 24, 64]);
    let maps = vec![
        MapDef {
            name: "m".into(),
            kind: rng.pick(&[MapKind::Hash, MapKind::Array, MapKind::PerCpuArray]),
            key_size: 4,
            value_size,
            max_entries: 8,
            init: vec![],
        },
        MapDef {
            name: "rb".into(),
            kind: MapKind::RingBuf,
            key_size: 0,
            value_size: 0,
            max_entries: 4096,
            init: vec![],
        },
    ];
    let prog_type = rng.pick(&[
        ProgramType::Kprobe,
        ProgramType::Kprobe,
        ProgramType::Tracepoint,
        ProgramType::PerfEvent,
        ProgramType::RawTracepoint,
        ProgramType::SocketFilter,
    ]);
    let len = 4 + rng.below(40) as usize;
    // Built as (instruction, jump distance in pieces) then laid out.
    let mut pieces: Vec<Vec<Insn>> = Vec::new();
    let reg = |rng: &mut Rng| rng.below(10) as u8;
    let size = |rng: &mut Rng| rng.pick(&[BPF_B, BPF_H, BPF_W, BPF_DW]);
    let off = |rng: &mut Rng| -> i16 {
        match rng.below(4) {
            0 => -8 * (1 + rng.below(8) as i16),
            1 => rng.below(32) as i16,
            2 => -(rng.below(520) as i16),
            _ => rng.below(200) as i16 - 8,
        }
    };
    // Every register starts initialised, so programs get past `!read_ok`:
    // r6 the context, r7 a stack pointer, the rest small numbers.
    let mut prologue = vec![Insn::mov64_reg(6, 1), Insn::mov64_reg(7, 10)];
    prologue.push(Insn::alu64_imm(BPF_ADD, 7, -16));
    for r in [0u8, 2, 3, 4, 5, 8, 9] {
        prologue.push(Insn::mov64_imm(r, rng.below(24) as i32));
    }
    for k in 1..=4 {
        prologue.push(Insn::st(BPF_DW, 10, -8 * k, 0));
    }
    pieces.push(prologue);
    for _ in 0..len {
        let p: Vec<Insn> = match rng.below(14) {
            0 | 1 => {
                let class = if rng.below(3) == 0 {
                    BPF_ALU
                } else {
                    BPF_ALU64
                };
                let op = rng.pick(&[
                    BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD,
                    BPF_XOR, BPF_MOV, BPF_ARSH,
                ]);
                if rng.below(2) == 0 {
                    vec![Insn::new(
                        class | op | BPF_X,
                        reg(&mut rng),
                        rng.below(11) as u8,
                        0,
                        0,
                    )]
                } else {
                    let imm = match op {
                        BPF_LSH | BPF_RSH | BPF_ARSH => rng.below(32) as i32,
                        BPF_DIV | BPF_MOD => 1 + rng.below(9) as i32,
                        _ => rng.pick(&[0, 1, 4, 7, 8, 15, 16, 255, -1, -8, 1 << 20, 0x7fff_ffff]),
                    };
                    vec![Insn::new(class | op | BPF_K, reg(&mut rng), 0, 0, imm)]
                }
            }
            2 => vec![
                Insn::mov64_reg(reg(&mut rng), 10),
                Insn::alu64_imm(BPF_ADD, reg(&mut rng), -8 * rng.below(65) as i32),
            ],
            3 | 4 => {
                let any = reg(&mut rng);
                let base = rng.pick(&[10u8, 10, 1, 0, 6, 7, any]);
                vec![Insn::ldx(
                    size(&mut rng),
                    reg(&mut rng),
                    base,
                    off(&mut rng),
                )]
            }
            5 | 6 => {
                let any = reg(&mut rng);
                let base = rng.pick(&[10u8, 10, 0, 6, 7, 1, any]);
                if rng.below(2) == 0 {
                    vec![Insn::stx(
                        size(&mut rng),
                        base,
                        rng.below(11) as u8,
                        off(&mut rng),
                    )]
                } else {
                    vec![Insn::st(
                        size(&mut rng),
                        base,
                        off(&mut rng),
                        rng.pick(&[0, 1, -1, 42]),
                    )]
                }
            }
            7 | 8 => {
                // a lookup; sometimes keeps the result in r6/r7
                let mut v = vec![
                    Insn::st(BPF_W, 10, -4, rng.below(10) as i32),
                    Insn::mov64_reg(2, 10),
                    Insn::alu64_imm(BPF_ADD, 2, -4),
                ];
                v.extend(Insn::ld_map(1, 0));
                v.push(Insn::call(bpf::helpers::MAP_LOOKUP_ELEM));
                if rng.below(3) != 0 {
                    v.push(Insn::mov64_reg(rng.pick(&[6u8, 7]), 0));
                }
                v
            }
            9 => {
                let id = rng.pick(&[
                    bpf::helpers::KTIME_GET_NS,
                    bpf::helpers::GET_PRANDOM_U32,
                    bpf::helpers::PROBE_READ_KERNEL,
                    bpf::helpers::GET_CURRENT_COMM,
                    bpf::helpers::RINGBUF_OUTPUT,
                    bpf::helpers::MAP_UPDATE_ELEM,
                ]);
                let mut v = Vec::new();
                match id {
                    bpf::helpers::PROBE_READ_KERNEL | bpf::helpers::GET_CURRENT_COMM => {
                        v.push(Insn::mov64_reg(1, rng.pick(&[10u8, 0, 6])));
                        v.push(Insn::alu64_imm(BPF_ADD, 1, -8 * rng.below(9) as i32));
                        v.push(Insn::mov64_imm(2, rng.pick(&[0, 1, 8, 16, 64])));
                        if rng.below(3) == 0 {
                            v.push(Insn::mov64_reg(2, rng.pick(&[0u8, 6, 7, 8])));
                        }
                        v.push(Insn::mov64_imm(3, 0));
                    }
                    bpf::helpers::RINGBUF_OUTPUT => {
                        v.extend(Insn::ld_map(1, 1));
                        v.push(Insn::mov64_reg(2, rng.pick(&[10u8, 0, 6])));
                        v.push(Insn::alu64_imm(BPF_ADD, 2, -8 * rng.below(9) as i32));
                        v.push(Insn::mov64_imm(3, rng.pick(&[0, 4, 8, 16])));
                        v.push(Insn::mov64_imm(4, 0));
                    }
                    bpf::helpers::MAP_UPDATE_ELEM => {
                        v.extend(Insn::ld_map(1, 0));
                        v.push(Insn::mov64_reg(2, 10));
                        v.push(Insn::alu64_imm(BPF_ADD, 2, -4));
                        v.push(Insn::mov64_reg(3, rng.pick(&[10u8, 0, 6])));
                        v.push(Insn::alu64_imm(BPF_ADD, 3, -8 * rng.below(9) as i32));
                        v.push(Insn::mov64_imm(4, 0));
                    }
                    _ => {}
                }
                v.push(Insn::call(id));
                v
            }
            10 | 11 => {
                // forward branch over the next k pieces (patched below)
                let op = rng.pick(&[
                    BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE,
                    BPF_JSLT, BPF_JSLE, BPF_JSET,
                ]);
                let class = if rng.below(4) == 0 {
                    BPF_JMP32
                } else {
                    BPF_JMP
                };
                let k = 1 + rng.below(4) as i16;
                if rng.below(3) == 0 {
                    vec![Insn::new(
                        class | op | BPF_X,
                        reg(&mut rng),
                        reg(&mut rng),
                        k,
                        0,
                    )]
                } else {
                    let imm = rng.pick(&[0, 0, 1, 7, 8, 16, 100, -1]);
                    vec![Insn::new(class | op | BPF_K, reg(&mut rng), 0, k, imm)]
                }
            }
            12 => vec![Insn::alu64_reg(
                BPF_ADD,
                rng.pick(&[0u8, 6, 7, 2]),
                reg(&mut rng),
            )],
            _ => vec![Insn::mov64_reg(reg(&mut rng), reg(&mut rng))],
        };
        pieces.push(p);
    }
    pieces.push(vec![Insn::mov64_imm(0, 0), Insn::exit()]);
    // Lay out; a jump's `off` counted pieces, now it must count slots.
    let starts: Vec<usize> = pieces
        .iter()
        .scan(0usize, |acc, p| {
            let s = *acc;
            *acc += p.len();
            Some(s)
        })
        .collect();
    let mut insns = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        for insn in p {
            let mut insn = *insn;
            let class = insn.class();
            let op = insn.code & 0xf0;
            if (class == BPF_JMP || class == BPF_JMP32) && !matches!(op, BPF_CALL | BPF_EXIT) {
                let target = (i + insn.off as usize + 1).min(pieces.len() - 1);
                insn.off = (starts[target] as i64 - starts[i] as i64 - 1) as i16;
            }
            insns.push(insn);
        }
    }
    let mut target = Target::new(KernelVersion::new(6, 18));
    target.privileged = true;
    CorpusProgram {
        name: format!("wild/{seed}"),
        expect: Expect::Accept,
        prog_type,
        target,
        userspace: false,
        insn: None,
        maps,
        insns,
    }
}

/// A program that bounds an index and uses it into a map value — valid or
/// not depending on exactly what the verifier can prove — for differential
/// testing of range tracking and branch refinement against the kernel:
/// a random source (helper result or map value load), one to three random
/// ALU steps (64- or 32-bit), one or two random comparisons with a constant
/// or another bounded register, and a load or store at a random offset.
pub fn generate_bounds(seed: u64) -> CorpusProgram {
    use bpf::insn::*;
    let mut rng = Rng(seed.wrapping_mul(0x94d0_49bb_1331_11eb) | 1);
    let value_size = rng.pick(&[8u32, 16, 32, 64, 256]);
    let maps = vec![MapDef {
        name: "m".into(),
        kind: MapKind::Array,
        key_size: 4,
        value_size,
        max_entries: 1,
        init: vec![],
    }];
    // r6 = &m[k] (checked), with a key the verifier cannot know.
    let mut out: Vec<Insn> = vec![
        Insn::call(bpf::helpers::GET_PRANDOM_U32),
        Insn::alu64_imm(BPF_AND, 0, 1),
        Insn::stx(BPF_W, 10, 0, -4),
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(BPF_ADD, 2, -4),
    ];
    out.extend(Insn::ld_map(1, 0));
    out.push(Insn::call(bpf::helpers::MAP_LOOKUP_ELEM));
    out.push(Insn::jmp_imm(BPF_JNE, 0, 0, 2));
    out.push(Insn::mov64_imm(0, 0));
    out.push(Insn::exit());
    out.push(Insn::mov64_reg(6, 0));
    // Sources: r7 the index, r8 a second bounded value.
    for r in [7u8, 8] {
        match rng.below(3) {
            0 => out.push(Insn::ldx(rng.pick(&[BPF_B, BPF_H, BPF_W, BPF_DW]), r, 6, 0)),
            1 => {
                out.push(Insn::call(rng.pick(&[
                    bpf::helpers::GET_PRANDOM_U32,
                    bpf::helpers::KTIME_GET_NS,
                ])));
                out.push(Insn::mov64_reg(r, 0));
            }
            _ => out.push(Insn::mov64_imm(r, rng.below(64) as i32)),
        }
    }
    out.push(Insn::alu64_imm(BPF_AND, 8, rng.pick(&[7, 15, 63, 255])));
    for _ in 0..1 + rng.below(3) {
        let class = if rng.below(3) == 0 {
            BPF_ALU
        } else {
            BPF_ALU64
        };
        let (op, imm) = match rng.below(11) {
            0 | 1 => (
                BPF_AND,
                rng.pick(&[1, 3, 7, 15, 31, 63, 127, 255, -8, 0x7fff_ffff]),
            ),
            2 => (
                BPF_RSH,
                rng.below(40) as i32 % if class == BPF_ALU { 32 } else { 64 },
            ),
            3 => (BPF_LSH, rng.below(6) as i32),
            4 => (BPF_ADD, rng.pick(&[1, 4, 8, -1, -8, 100, -100])),
            5 => (BPF_SUB, rng.pick(&[1, 4, 8, -8, 100])),
            6 => (BPF_OR, rng.pick(&[1, 8, 0x80])),
            7 => (BPF_MUL, rng.pick(&[2, 3, 8])),
            8 => (BPF_ARSH, rng.below(8) as i32),
            9 => (BPF_XOR, rng.pick(&[1, 0xff, -1])),
            _ => (BPF_MOV, -1),
        };
        if op == BPF_MOV {
            // w7 = w7: truncate to 32 bits
            out.push(Insn::new(BPF_ALU | BPF_MOV | BPF_X, 7, 7, 0, 0));
        } else {
            out.push(Insn::new(class | op | BPF_K, 7, 0, 0, imm));
        }
    }
    let jops = [
        BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE, BPF_JSLT,
        BPF_JSLE, BPF_JSET,
    ];
    let n_checks = rng.below(3) as usize;
    let size = rng.pick(&[BPF_B, BPF_H, BPF_W, BPF_DW]);
    let off = rng.below(10) as i16 - 2;
    let store = rng.below(3) == 0;
    let access: Vec<Insn> = {
        let mut v = vec![Insn::alu64_reg(BPF_ADD, 6, 7)];
        v.push(if store {
            Insn::st(size, 6, off, 1)
        } else {
            Insn::ldx(size, 0, 6, off)
        });
        v
    };
    // Each check jumps over the rest (checks and access) or falls into it.
    let mut checks = Vec::new();
    for _ in 0..n_checks {
        let class = if rng.below(3) == 0 {
            BPF_JMP32
        } else {
            BPF_JMP
        };
        let op = rng.pick(&jops);
        let insn = if rng.below(4) == 0 {
            Insn::new(class | op | BPF_X, 7, 8, 0, 0)
        } else {
            let k = rng.pick(&[0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 100, 248, 255, 256, -1]);
            Insn::new(class | op | BPF_K, 7, 0, 0, k)
        };
        checks.push(insn);
    }
    // Layout: checks (each jumping to `exit0` when taken), access, exit0.
    let total_after = |i: usize| (checks.len() - i - 1) + access.len();
    for (i, c) in checks.iter().enumerate() {
        let mut c = *c;
        c.off = total_after(i) as i16;
        out.push(c);
    }
    out.extend(access);
    out.push(Insn::mov64_imm(0, 0));
    out.push(Insn::exit());
    let mut target = Target::new(KernelVersion::new(6, 18));
    target.privileged = true;
    CorpusProgram {
        name: format!("bounds/{seed}"),
        expect: Expect::Accept,
        prog_type: ProgramType::Kprobe,
        target,
        userspace: false,
        insn: None,
        maps,
        insns: out,
    }
}
