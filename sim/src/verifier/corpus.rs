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

use stapc_bpf::asm::assemble;
use stapc_bpf::insn::{Insn, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE};
use stapc_bpf::{KernelVersion, MapDef, MapKind, ProgramType, Target};

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
