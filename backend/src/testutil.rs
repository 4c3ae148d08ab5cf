//! Test support: a reference interpreter for the IR and a tiny BPF
//! interpreter (ALU/JMP/LD/ST/atomic add and the helpers the backend calls)
//! over fake tagged memory, so compiled functions can be run and compared
//! with the IR's meaning without the simulator crate.

use std::collections::HashMap;

use stapc_bpf::helpers;
use stapc_bpf::insn::*;
use stapc_bpf::object::record;
use stapc_bpf::Insn;
use stapc_midend::ir::*;

pub const PID_TGID: u64 = (4321 << 32) | 8765;
pub const UID_GID: u64 = (1001 << 32) | 1000;
pub const CPU: u64 = 3;
pub const KTIME: u64 = 123_456_789;
pub const COMM: &[u8] = b"stapc-test";
pub const JIFFIES: u64 = 4_295_000_000;

/// Observable state: the globals value, the control value and the records sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct World {
    pub globals: Vec<u8>,
    pub control: Vec<u8>,
    pub records: Vec<Vec<u8>>,
    /// Statistics (one CPU): descriptor (its `map` = 4 + index) and value.
    pub stats: Vec<(stapc_bpf::StatDesc, Vec<u8>)>,
}

impl World {
    pub fn new(globals: usize) -> World {
        World {
            globals: vec![0; globals],
            control: vec![0; stapc_bpf::object::control::VALUE_SIZE as usize],
            records: Vec::new(),
            stats: Vec::new(),
        }
    }
}

// ---- statistics ----

/// The reference meaning of `s <<< v` on one CPU's statistic value.
fn stat_add_ref(desc: &stapc_bpf::StatDesc, m: &mut [u8], v: i64) {
    let count = rd64(m, 0);
    wr64(m, 0, count + 1);
    wr64(m, 8, rd64(m, 8).wrapping_add(v as u64));
    if count == 0 || v < rd64(m, 16) as i64 {
        wr64(m, 16, v as u64);
    }
    if count == 0 || v > rd64(m, 24) as i64 {
        wr64(m, 24, v as u64);
    }
    if desc.log {
        let bits = 64 - v.unsigned_abs().leading_zeros() as i64;
        let k = (64 + if v < 0 { -bits } else { bits }) as usize;
        let o = desc.log_offset() as usize + 8 * k;
        wr64(m, o, rd64(m, o) + 1);
    }
    if let Some((start, _, interval)) = desc.linear {
        let n = desc.linear_buckets() as i128;
        let k = if v < start {
            0
        } else {
            ((v as i128 - start as i128) / interval as i128 + 1).min(n - 1)
        };
        let o = desc.linear_offset() as usize + 8 * k as usize;
        wr64(m, o, rd64(m, o) + 1);
    }
}

fn rd64(m: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&m[off..off + 8]);
    u64::from_le_bytes(b)
}

fn wr64(m: &mut [u8], off: usize, v: u64) {
    m[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn strlen(s: &[u8]) -> usize {
    s.iter().position(|&b| b == 0).unwrap_or(s.len())
}

/// Run `f` under the IR's semantics. Returns the number of blocks executed.
pub fn run_ir(f: &Function, msl: usize, w: &mut World) -> Result<u64, String> {
    if rd64(&w.control, 0) != 0 {
        return Ok(0);
    }
    let mut vals: HashMap<Value, i64> = HashMap::new();
    let mut slots: HashMap<Slot, Vec<u8>> = HashMap::new();
    let mut block = f.entry().ok_or("no entry")?;
    let mut steps = 0u64;
    loop {
        steps += 1;
        if steps > 100_000 {
            return Err("too many steps".into());
        }
        for &i in &f.blocks[block].insts {
            let get = |v: Value| vals.get(&v).copied().ok_or(format!("{v} undefined"));
            let data = f.insts[i].clone();
            let mut res: Option<i64> = None;
            let slot = |slots: &mut HashMap<Slot, Vec<u8>>, s: Slot| -> Vec<u8> {
                slots.entry(s).or_insert_with(|| vec![0; msl]).clone()
            };
            match data {
                InstData::Iconst { imm } => res = Some(imm),
                InstData::Unary { op, arg } => {
                    let a = get(arg)?;
                    res = Some(match op {
                        UnaryOp::Neg => a.wrapping_neg(),
                        UnaryOp::BitNot => !a,
                    })
                }
                InstData::Binary { op, args } => {
                    let (a, b) = (get(args[0])?, get(args[1])?);
                    res = Some(match op {
                        BinaryOp::Add => a.wrapping_add(b),
                        BinaryOp::Sub => a.wrapping_sub(b),
                        BinaryOp::Mul => a.wrapping_mul(b),
                        BinaryOp::SDiv => a.checked_div(b).unwrap_or(if b == 0 { 0 } else { a }),
                        BinaryOp::SRem => a.checked_rem(b).unwrap_or(0),
                        BinaryOp::And => a & b,
                        BinaryOp::Or => a | b,
                        BinaryOp::Xor => a ^ b,
                        BinaryOp::Shl => a.wrapping_shl((b & 63) as u32),
                        BinaryOp::AShr => a.wrapping_shr((b & 63) as u32),
                        BinaryOp::LShr => ((a as u64) >> (b & 63)) as i64,
                    })
                }
                InstData::Icmp { cond, args } => {
                    res = Some(cond.eval(get(args[0])?, get(args[1])?) as i64)
                }
                InstData::LoadGlobal { offset } => {
                    res = Some(rd64(&w.globals, offset as usize) as i64)
                }
                InstData::StoreGlobal { offset, arg } => {
                    wr64(&mut w.globals, offset as usize, get(arg)? as u64)
                }
                InstData::AtomicAddGlobal { offset, arg } => {
                    let o = offset as usize;
                    let v = rd64(&w.globals, o).wrapping_add(get(arg)? as u64);
                    wr64(&mut w.globals, o, v);
                }
                InstData::StrConst { dst, value } => {
                    let mut b = vec![0u8; msl];
                    let n = value.len().min(msl - 1);
                    b[..n].copy_from_slice(&value.as_bytes()[..n]);
                    slots.insert(dst, b);
                }
                InstData::StrLoadGlobal { dst, offset } => {
                    let o = offset as usize;
                    slots.insert(dst, w.globals[o..o + msl].to_vec());
                }
                InstData::StrStoreGlobal { offset, src } => {
                    let s = slot(&mut slots, src);
                    let o = offset as usize;
                    w.globals[o..o + msl].copy_from_slice(&s);
                }
                InstData::StrCopy { dst, src } => {
                    let s = slot(&mut slots, src);
                    slots.insert(dst, s);
                }
                InstData::StrConcat { dst, args } => {
                    let a = slot(&mut slots, args[0]);
                    let b = slot(&mut slots, args[1]);
                    let mut out = vec![0u8; msl];
                    let la = strlen(&a).min(msl - 1);
                    out[..la].copy_from_slice(&a[..la]);
                    let lb = strlen(&b).min(msl - 1 - la);
                    out[la..la + lb].copy_from_slice(&b[..lb]);
                    slots.insert(dst, out);
                }
                InstData::StrCompareConst { arg, value } => {
                    let a = slot(&mut slots, arg);
                    let a = &a[..strlen(&a)];
                    let b = &value.as_bytes()[..value.len().min(msl - 1)];
                    res = Some(match a.cmp(b) {
                        std::cmp::Ordering::Less => -1,
                        std::cmp::Ordering::Equal => 0,
                        std::cmp::Ordering::Greater => 1,
                    });
                }
                InstData::StrCompare { args } => {
                    let a = slot(&mut slots, args[0]);
                    let b = slot(&mut slots, args[1]);
                    let (a, b) = (&a[..strlen(&a)], &b[..strlen(&b)]);
                    res = Some(match a.cmp(b) {
                        std::cmp::Ordering::Less => -1,
                        std::cmp::Ordering::Equal => 0,
                        std::cmp::Ordering::Greater => 1,
                    });
                }
                InstData::Context { op } => {
                    res = Some(match op {
                        ContextOp::Pid => (PID_TGID >> 32) as i64,
                        ContextOp::Tid => (PID_TGID & 0xffff_ffff) as i64,
                        ContextOp::Uid => (UID_GID & 0xffff_ffff) as i64,
                        ContextOp::Gid => (UID_GID >> 32) as i64,
                        ContextOp::Cpu => CPU as i64,
                        ContextOp::KtimeNs => KTIME as i64,
                        // ---- functions/strings ----
                        ContextOp::Target => rd64(&w.control, 16) as i64,
                        ContextOp::Jiffies => JIFFIES as i64,
                        other => return Err(format!("context {other:?} is not modelled")),
                    })
                }
                // ---- functions/strings ----
                InstData::StrOp {
                    op: StrOp::Len,
                    srcs,
                    ..
                } => {
                    let s = slot(&mut slots, *srcs.first().ok_or("strlen without operand")?);
                    res = Some(strlen(&s) as i64);
                }
                InstData::StrOp { op, .. } => return Err(format!("str_op {op:?} is not modelled")),
                InstData::Sprintf { .. } => return Err("sprintf is not modelled".into()),
                InstData::Call { .. }
                | InstData::Arg { .. }
                | InstData::ReturnValue { .. }
                | InstData::LoadCtx { .. } => return Err("function calls are not modelled".into()),
                InstData::ProbeRead { .. } => return Err("memory reads are not modelled".into()),
                InstData::StrContext {
                    dst,
                    op: StrContextOp::Execname,
                } => {
                    let mut b = vec![0u8; msl];
                    b[..COMM.len()].copy_from_slice(COMM);
                    slots.insert(dst, b);
                }
                InstData::Printf { format, args } => {
                    let mut r = Vec::new();
                    r.extend(record::PRINTF.to_le_bytes());
                    r.extend(format.to_le_bytes());
                    for a in args {
                        match a {
                            OutArg::Long(v) => r.extend(get(v)?.to_le_bytes()),
                            OutArg::Str(s) => r.extend(slot(&mut slots, s)),
                        }
                    }
                    w.records.push(r);
                }
                InstData::Exit => {
                    wr64(&mut w.control, 0, 1);
                    let mut r = Vec::new();
                    r.extend(record::EXIT.to_le_bytes());
                    r.extend(0u32.to_le_bytes());
                    w.records.push(r);
                }
                // ---- statistics ----
                InstData::StatAdd { key: Some(_), .. } => {
                    return Err("arrays of statistics are not modelled".into())
                }
                InstData::StatAdd { stat, arg, .. } => {
                    let v = get(arg)?;
                    let (desc, m) = w.stats.get_mut(stat as usize).ok_or("no such stat")?;
                    stat_add_ref(desc, m, v);
                }
                InstData::StatRead { .. } | InstData::StatClear { .. } => {
                    return Err("statistic reads are not modelled".into())
                }
                InstData::PrintHist { key: Some(_), .. } => {
                    return Err("arrays of statistics are not modelled".into())
                }
                InstData::PrintHist { hist, .. } => {
                    let mut r = Vec::new();
                    r.extend(record::HIST.to_le_bytes());
                    r.extend(hist.to_le_bytes());
                    w.records.push(r);
                }
                InstData::Jump { dest, args } => {
                    let a: Vec<i64> = args.iter().map(|v| get(*v)).collect::<Result<_, _>>()?;
                    for (p, x) in f.blocks[dest].params.iter().zip(a) {
                        vals.insert(*p, x);
                    }
                    block = dest;
                    break;
                }
                InstData::Brif {
                    cond,
                    then_dest,
                    then_args,
                    else_dest,
                    else_args,
                } => {
                    let (dest, args) = if get(cond)? != 0 {
                        (then_dest, then_args)
                    } else {
                        (else_dest, else_args)
                    };
                    let a: Vec<i64> = args.iter().map(|v| get(*v)).collect::<Result<_, _>>()?;
                    for (p, x) in f.blocks[dest].params.iter().zip(a) {
                        vals.insert(*p, x);
                    }
                    block = dest;
                    break;
                }
                // ---- arrays ----
                // Map semantics are the simulator's; the random programs
                // this oracle checks never contain array instructions.
                InstData::KeyStore { .. }
                | InstData::KeyStoreStr { .. }
                | InstData::KeyLoad { .. }
                | InstData::KeyLoadStr { .. }
                | InstData::ArrayGet { .. }
                | InstData::ArrayGetStr { .. }
                | InstData::ArraySet { .. }
                | InstData::ArraySetStr { .. }
                | InstData::ArrayAdd { .. }
                | InstData::ArrayIn { .. }
                | InstData::ArrayDelete { .. }
                | InstData::ArrayClear { .. }
                | InstData::ArrayIterStart { .. }
                | InstData::ArrayIterNext { .. }
                | InstData::ArrayIterEnd { .. } => {
                    return Err("array instructions are not interpreted here".into())
                }
                InstData::Return => return Ok(steps),
                InstData::Trap { error } | InstData::TrapMsg { error, .. } => {
                    let c = rd64(&w.control, 8);
                    wr64(&mut w.control, 8, c + 1);
                    wr64(&mut w.control, 0, 1);
                    let mut r = Vec::new();
                    r.extend(record::ERROR.to_le_bytes());
                    r.extend(error.to_le_bytes());
                    if let InstData::TrapMsg { msg, .. } = f.insts[i] {
                        r.extend(slot(&mut slots, msg));
                    }
                    w.records.push(r);
                    return Ok(steps);
                }
            }
            if let (Some(r), Some(v)) = (res, f.result(i)) {
                vals.insert(v, r);
            }
        }
    }
}

// ---- BPF interpreter ----

const REGION_SHIFT: u32 = 40;
const STACK: u64 = 1;
const CTX: u64 = 2;
const MAPS: u64 = 3; // map index i's value is region MAPS + i
const MAP_PTR: u64 = 0x80; // lddw of map i gives (MAP_PTR + i) << shift

fn region(addr: u64) -> (u64, usize) {
    (
        addr >> REGION_SHIFT,
        (addr & ((1 << REGION_SHIFT) - 1)) as usize,
    )
}

pub struct Machine<'a> {
    pub world: &'a mut World,
    pub scratch: Vec<u8>,
    pub stack: Vec<u8>,
    pub steps: u64,
}

impl Machine<'_> {
    fn mem(&mut self, addr: u64, len: usize) -> Result<&mut [u8], String> {
        let (r, off) = region(addr);
        let m: &mut Vec<u8> = match r {
            STACK => &mut self.stack,
            x if x == MAPS => &mut self.world.globals,
            x if x == MAPS + 1 => &mut self.world.control,
            x if x == MAPS + 2 => &mut self.scratch,
            x if x >= MAPS + 4 && ((x - MAPS - 4) as usize) < self.world.stats.len() => {
                &mut self.world.stats[(x - MAPS - 4) as usize].1
            }
            _ => return Err(format!("bad address {addr:#x}")),
        };
        m.get_mut(off..off + len)
            .ok_or(format!("out of bounds {addr:#x}+{len}"))
    }

    fn read_str(&mut self, addr: u64, max: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for k in 0..max {
            let b = self.mem(addr + k as u64, 1)?[0];
            if b == 0 {
                break;
            }
            out.push(b);
        }
        Ok(out)
    }

    fn call(&mut self, id: i32, r: &mut [u64; 11]) -> Result<(), String> {
        r[0] = match id {
            helpers::MAP_LOOKUP_ELEM => {
                let (rg, idx) = region(r[1]);
                if rg < MAP_PTR {
                    return Err("lookup without a map".into());
                }
                let key = self.mem(r[2], 4)?.to_vec();
                if key != [0, 0, 0, 0] || idx != 0 {
                    0
                } else {
                    (MAPS + (rg - MAP_PTR)) << REGION_SHIFT
                }
            }
            helpers::GET_CURRENT_PID_TGID => PID_TGID,
            helpers::GET_CURRENT_UID_GID => UID_GID,
            helpers::GET_SMP_PROCESSOR_ID => CPU,
            helpers::KTIME_GET_NS => KTIME,
            helpers::GET_CURRENT_COMM => {
                let size = r[2] as usize;
                let buf = self.mem(r[1], size)?;
                buf.fill(0);
                let n = COMM.len().min(size - 1);
                buf[..n].copy_from_slice(&COMM[..n]);
                0
            }
            helpers::RINGBUF_OUTPUT | helpers::PERF_EVENT_OUTPUT => {
                let (ptr, size) = if id == helpers::RINGBUF_OUTPUT {
                    (r[2], r[3])
                } else {
                    if r[3] != helpers::BPF_F_CURRENT_CPU as u64 || region(r[1]).0 != CTX {
                        return Err("bad perf_event_output args".into());
                    }
                    (r[4], r[5])
                };
                let rec = self.mem(ptr, size as usize)?.to_vec();
                self.world.records.push(rec);
                0
            }
            helpers::PROBE_READ_KERNEL | helpers::PROBE_READ => {
                let size = r[2] as usize;
                let data = self.mem(r[3], size)?.to_vec();
                self.mem(r[1], size)?.copy_from_slice(&data);
                0
            }
            helpers::PROBE_READ_KERNEL_STR | helpers::PROBE_READ_STR => {
                let size = r[2] as usize;
                // Byte by byte, as the kernel copies (overlap shows).
                let mut n = 0usize;
                while n < size {
                    let b = if n + 1 == size {
                        0
                    } else {
                        self.mem(r[3] + n as u64, 1)?[0]
                    };
                    self.mem(r[1] + n as u64, 1)?[0] = b;
                    n += 1;
                    if b == 0 {
                        break;
                    }
                }
                n as u64
            }
            helpers::STAPC_STR_CONCAT => {
                let msl = r[4] as usize;
                let a = self.read_str(r[2], msl)?;
                let b = self.read_str(r[3], msl)?;
                let mut out = vec![0u8; msl];
                let la = a.len().min(msl - 1);
                out[..la].copy_from_slice(&a[..la]);
                let lb = b.len().min(msl - 1 - la);
                out[la..la + lb].copy_from_slice(&b[..lb]);
                self.mem(r[1], msl)?.copy_from_slice(&out);
                0
            }
            // ---- functions/strings ----
            helpers::JIFFIES64 => JIFFIES,
            helpers::STAPC_STR_LEN => self.read_str(r[1], r[2] as usize)?.len() as u64,
            helpers::STAPC_STR_COMPARE => {
                let msl = r[3] as usize;
                let a = self.read_str(r[1], msl)?;
                let b = self.read_str(r[2], msl)?;
                match a.cmp(&b) {
                    std::cmp::Ordering::Less => -1i64 as u64,
                    std::cmp::Ordering::Equal => 0,
                    std::cmp::Ordering::Greater => 1,
                }
            }
            _ => return Err(format!("unknown helper {id}")),
        };
        for x in r.iter_mut().take(6).skip(1) {
            *x = 0xdead_beef_dead_beef; // clobbered
        }
        Ok(())
    }

    /// Run a program to its `exit`.
    pub fn run(&mut self, prog: &[Insn]) -> Result<u64, String> {
        let mut r = [0u64; 11];
        r[1] = CTX << REGION_SHIFT;
        r[10] = (STACK << REGION_SHIFT) + self.stack.len() as u64;
        let mut pc = 0usize;
        loop {
            self.steps += 1;
            if self.steps > 1_000_000 {
                return Err("step limit".into());
            }
            let i = *prog.get(pc).ok_or(format!("pc {pc} out of program"))?;
            let (d, s) = (i.dst as usize, i.src as usize);
            if d > 10 || s > 10 {
                return Err(format!("bad register at {pc}"));
            }
            pc += 1;
            let class = i.class();
            match class {
                BPF_ALU64 | BPF_ALU => {
                    let op = i.code & 0xf0;
                    if op == BPF_END {
                        r[d] = (r[d]).swap_bytes();
                        continue;
                    }
                    let src = if i.code & BPF_X != 0 {
                        r[s]
                    } else {
                        i.imm as i64 as u64
                    };
                    let a = r[d];
                    let v = match op {
                        BPF_ADD => a.wrapping_add(src),
                        BPF_SUB => a.wrapping_sub(src),
                        BPF_MUL => a.wrapping_mul(src),
                        BPF_DIV if i.off == 1 => (a as i64)
                            .checked_div(src as i64)
                            .unwrap_or(if src == 0 { 0 } else { a as i64 })
                            as u64,
                        BPF_MOD if i.off == 1 => (a as i64)
                            .checked_rem(src as i64)
                            .unwrap_or(if src == 0 { a as i64 } else { 0 })
                            as u64,
                        BPF_DIV => a.checked_div(src).unwrap_or(0),
                        BPF_MOD => a.checked_rem(src).unwrap_or(a),
                        BPF_OR => a | src,
                        BPF_AND => a & src,
                        BPF_LSH => a.wrapping_shl(src as u32 & 63),
                        BPF_RSH => a.wrapping_shr(src as u32 & 63),
                        BPF_ARSH => ((a as i64).wrapping_shr(src as u32 & 63)) as u64,
                        BPF_NEG => a.wrapping_neg(),
                        BPF_XOR => a ^ src,
                        BPF_MOV => src,
                        _ => return Err(format!("bad alu op {op:#x}")),
                    };
                    if d == 10 {
                        return Err("write to r10".into());
                    }
                    r[d] = if class == BPF_ALU { v & 0xffff_ffff } else { v };
                }
                BPF_LD => {
                    if !i.is_lddw() {
                        return Err("bad ld".into());
                    }
                    let hi = prog.get(pc).ok_or("truncated lddw")?.imm as u32 as u64;
                    pc += 1;
                    r[d] = if i.src == BPF_PSEUDO_MAP_FD {
                        (MAP_PTR + i.imm as u64) << REGION_SHIFT
                    } else {
                        (hi << 32) | i.imm as u32 as u64
                    };
                }
                BPF_LDX => {
                    let n = size_bytes(i.code);
                    let addr = r[s].wrapping_add(i.off as i64 as u64);
                    let m = self.mem(addr, n)?;
                    let mut b = [0u8; 8];
                    b[..n].copy_from_slice(m);
                    r[d] = u64::from_le_bytes(b);
                }
                BPF_ST | BPF_STX => {
                    let n = size_bytes(i.code);
                    let addr = r[d].wrapping_add(i.off as i64 as u64);
                    let v = if class == BPF_ST {
                        i.imm as i64 as u64
                    } else {
                        r[s]
                    };
                    if i.code & 0xe0 == BPF_ATOMIC {
                        if i.imm != 0 || n != 8 {
                            return Err("unsupported atomic".into());
                        }
                        let m = self.mem(addr, 8)?;
                        let old = rd64(m, 0);
                        wr64(m, 0, old.wrapping_add(v));
                    } else {
                        let m = self.mem(addr, n)?;
                        m.copy_from_slice(&v.to_le_bytes()[..n]);
                    }
                }
                BPF_JMP => {
                    let op = i.code & 0xf0;
                    match op {
                        BPF_EXIT => return Ok(r[0]),
                        BPF_CALL => self.call(i.imm, &mut r)?,
                        BPF_JA => pc = (pc as i64 + i.off as i64) as usize,
                        _ => {
                            let a = r[d];
                            let b = if i.code & BPF_X != 0 {
                                r[s]
                            } else {
                                i.imm as i64 as u64
                            };
                            let (sa, sb) = (a as i64, b as i64);
                            let t = match op {
                                BPF_JEQ => a == b,
                                BPF_JNE => a != b,
                                BPF_JGT => a > b,
                                BPF_JGE => a >= b,
                                BPF_JLT => a < b,
                                BPF_JLE => a <= b,
                                BPF_JSGT => sa > sb,
                                BPF_JSGE => sa >= sb,
                                BPF_JSLT => sa < sb,
                                BPF_JSLE => sa <= sb,
                                BPF_JSET => a & b != 0,
                                _ => return Err(format!("bad jump {op:#x}")),
                            };
                            if t {
                                pc = (pc as i64 + i.off as i64) as usize;
                            }
                        }
                    }
                }
                BPF_JMP32 if i.code & 0xf0 == BPF_JA => {
                    // gotol: the offset is in imm.
                    pc = (pc as i64 + i.imm as i64) as usize;
                }
                _ => return Err(format!("unsupported class {class}")),
            }
        }
    }
}

fn size_bytes(code: u8) -> usize {
    match code & 0x18 {
        BPF_B => 1,
        BPF_H => 2,
        BPF_W => 4,
        _ => 8,
    }
}

/// Run `prog` against `world` with garbage-filled scratch and stack (so
/// reads of uninitialised memory show up as differences).
pub fn run_bpf(prog: &[Insn], scratch_size: usize, w: &mut World) -> Result<u64, String> {
    let mut m = Machine {
        world: w,
        scratch: vec![0xa5; scratch_size.max(8)],
        stack: vec![0x5a; 512],
        steps: 0,
    };
    m.run(prog)
}
