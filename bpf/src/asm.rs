//! Assembler for the uBPF-style syntax of the `bpf_conformance` suite
//! (`mov %r0, 1`, `ldxw %r0, [%r1+4]`, `lock fetch add [%r10-8], %r1`,
//! `jeq %r1, 5, +2`, labels, `call local f`, `call %r2`), so the ISA tests in
//! shared/bpf_conformance can run on the simulator.
//!
//! Mnemonics: ALU `add sub mul div sdiv mod smod or and xor lsh rsh arsh mov
//! neg` (no suffix or `64` = 64-bit, `32` = 32-bit), `movsx{8,16,32}{32,64}`,
//! `le16/32/64`, `be16/32/64`, `swap16/32/64` = `bswap16/32/64` (ALU64
//! byte swap); jumps `ja` (offset), `ja32` (`gotol`, 32-bit offset), `jeq jgt
//! jge jset jne jsgt jsge jlt jle jslt jsle` (and their `32` forms), `call N`,
//! `call helper N`, `call runtime N` (kfunc), `call local L`, `call %rN`,
//! `exit`; memory `ldx{b,h,w,dw}`, `ldxs{b,h,w}`, `st{b,h,w,dw}`,
//! `stx{b,h,w,dw}`, `ldabs{b,h,w}`, `ldind{b,h,w}`, `lddw`; atomics `lock
//! [fetch] {add,and,or,xor}[32]`, `lock xchg[32]`, `lock cmpxchg[32]`.
//!
//! Jump targets are `+N`/`-N` or a label; as in the suite, `exit` names the
//! first `exit` instruction unless a label of that name is defined. 32-bit
//! immediates are decimal in the i32 range or hex up to `0xffffffff`;
//! offsets are decimal in the i16 range or hex up to `0xffff`.

use crate::insn::*;
use std::collections::HashMap;
use std::fmt;

/// An assembly error: the 1-based line of the source and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for AsmError {}

/// Where a jump or call still needs its label's slot.
enum Fixup {
    /// Into `off` (ja, conditional jumps).
    Off(String),
    /// Into `imm` (ja32, call local).
    Imm(String),
}

struct Asm {
    out: Vec<Insn>,
    labels: HashMap<String, usize>,
    /// (slot, source line, fixup)
    fixups: Vec<(usize, usize, Fixup)>,
    first_exit: Option<usize>,
}

type R<T> = Result<T, String>;

fn parse_int(s: &str) -> R<(i128, bool)> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (hex, digits) = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(d) => (true, d),
        None => (false, body),
    };
    if digits.is_empty() || digits.len() > 32 {
        return Err(format!("Invalid number: {s}"));
    }
    let v = i128::from_str_radix(digits, if hex { 16 } else { 10 })
        .map_err(|_| format!("Invalid number: {s}"))?;
    Ok((if neg { -v } else { v }, hex))
}

fn imm32(s: &str) -> R<i32> {
    let (v, hex) = parse_int(s)?;
    let max = if hex {
        u32::MAX as i128
    } else {
        i32::MAX as i128
    };
    if v < i32::MIN as i128 || v > max {
        return Err(format!("Immediate out of range: {s}"));
    }
    Ok(v as u32 as i32)
}

fn imm64(s: &str) -> R<i64> {
    let (v, _) = parse_int(s)?;
    if v < i64::MIN as i128 || v > u64::MAX as i128 {
        return Err(format!("Immediate out of range: {s}"));
    }
    Ok(v as u64 as i64)
}

fn off16(s: &str) -> R<i16> {
    let (v, hex) = parse_int(s)?;
    let max = if hex {
        u16::MAX as i128
    } else {
        i16::MAX as i128
    };
    if v < i16::MIN as i128 || v > max {
        return Err(format!("Offset out of range: {s}"));
    }
    Ok(v as u16 as i16)
}

fn reg(s: &str) -> R<u8> {
    let n = s
        .strip_prefix("%r")
        .filter(|d| !d.is_empty() && d.len() <= 2 && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u8>().ok())
        .filter(|n| *n <= 10);
    n.ok_or_else(|| format!("Invalid register: {s}"))
}

fn is_reg(s: &str) -> bool {
    s.starts_with('%')
}

/// `[%r1+4]`, `[%r10-0x8]`, `[%r1]` → (register, offset).
fn mem(s: &str) -> R<(u8, i16)> {
    let fail = || format!("Failed to decode register and offset: {s}");
    let inner: String = s
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(fail)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    match inner.find(['+', '-']) {
        None => Ok((reg(&inner)?, 0)),
        Some(i) => Ok((reg(&inner[..i])?, off16(&inner[i..])?)),
    }
}

fn is_label(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b'.')
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
}

fn alu_op(name: &str) -> Option<(u8, i16)> {
    Some(match name {
        "add" => (BPF_ADD, 0),
        "sub" => (BPF_SUB, 0),
        "mul" => (BPF_MUL, 0),
        "div" => (BPF_DIV, 0),
        "sdiv" => (BPF_DIV, 1),
        "or" => (BPF_OR, 0),
        "and" => (BPF_AND, 0),
        "lsh" => (BPF_LSH, 0),
        "rsh" => (BPF_RSH, 0),
        "mod" => (BPF_MOD, 0),
        "smod" => (BPF_MOD, 1),
        "xor" => (BPF_XOR, 0),
        "mov" => (BPF_MOV, 0),
        "arsh" => (BPF_ARSH, 0),
        _ => return None,
    })
}

fn jmp_op(name: &str) -> Option<u8> {
    Some(match name {
        "jeq" => BPF_JEQ,
        "jgt" => BPF_JGT,
        "jge" => BPF_JGE,
        "jset" => BPF_JSET,
        "jne" => BPF_JNE,
        "jsgt" => BPF_JSGT,
        "jsge" => BPF_JSGE,
        "jlt" => BPF_JLT,
        "jle" => BPF_JLE,
        "jslt" => BPF_JSLT,
        "jsle" => BPF_JSLE,
        _ => return None,
    })
}

fn size_of(suffix: &str) -> Option<u8> {
    Some(match suffix {
        "b" => BPF_B,
        "h" => BPF_H,
        "w" => BPF_W,
        "dw" => BPF_DW,
        _ => return None,
    })
}

/// Split `name32` / `name64` / `name` into (name, is 64-bit).
fn width_suffix(m: &str) -> (&str, bool) {
    if let Some(b) = m.strip_suffix("32") {
        (b, false)
    } else if let Some(b) = m.strip_suffix("64") {
        (b, true)
    } else {
        (m, true)
    }
}

impl Asm {
    fn operands(m: &str, ops: &[&str], n: usize) -> R<()> {
        if ops.len() != n {
            return Err(format!("Invalid number of operands for mnemonic: {m}"));
        }
        Ok(())
    }

    /// A jump target: `+N`/`-N` now, a label later.
    fn target(&mut self, line: usize, s: &str, into_imm: bool) -> R<i64> {
        if s.starts_with('+') || s.starts_with('-') {
            let (v, _) = parse_int(s)?;
            let ok = if into_imm {
                (i32::MIN as i128..=i32::MAX as i128).contains(&v)
            } else {
                (i16::MIN as i128..=i16::MAX as i128).contains(&v)
            };
            if !ok {
                return Err(format!("Offset out of range: {s}"));
            }
            return Ok(v as i64);
        }
        if !is_label(s) {
            return Err(format!("Invalid label: {s}"));
        }
        let f = if into_imm {
            Fixup::Imm(s.into())
        } else {
            Fixup::Off(s.into())
        };
        self.fixups.push((self.out.len(), line, f));
        Ok(0)
    }

    fn insn(&mut self, line: usize, text: &str) -> R<()> {
        let (m, rest) = match text.find(char::is_whitespace) {
            Some(i) => (&text[..i], text[i..].trim()),
            None => (text, ""),
        };
        if m == "lock" {
            return self.lock(rest);
        }
        let ops: Vec<&str> = if rest.is_empty() {
            vec![]
        } else {
            rest.split(',').map(str::trim).collect()
        };
        if ops.iter().any(|o| o.is_empty()) {
            return Err(format!("Invalid number of operands for mnemonic: {m}"));
        }
        let insn = if let Some(i) = self.alu(m, &ops)? {
            i
        } else if m == "lddw" {
            Self::operands(m, &ops, 2)?;
            let [a, b] = Insn::lddw(reg(ops[0])?, imm64(ops[1])?);
            self.out.extend([a, b]);
            return Ok(());
        } else if m == "exit" {
            Self::operands(m, &ops, 0)?;
            if self.first_exit.is_none() {
                self.first_exit = Some(self.out.len());
            }
            Insn::exit()
        } else if m == "ja" {
            Self::operands(m, &ops, 1)?;
            let off = self.target(line, ops[0], false)?;
            Insn::ja(off as i16)
        } else if m == "ja32" || m == "gotol" {
            Self::operands(m, &ops, 1)?;
            let imm = self.target(line, ops[0], true)?;
            Insn::new(BPF_JMP32 | BPF_JA, 0, 0, 0, imm as i32)
        } else if m == "call" {
            self.call(line, rest)?
        } else if let Some(op) = jmp_op(width_suffix(m).0).filter(|_| !m.ends_with("64")) {
            Self::operands(m, &ops, 3)?;
            let class = if m.ends_with("32") {
                BPF_JMP32
            } else {
                BPF_JMP
            };
            let dst = reg(ops[0])?;
            let mut i = if is_reg(ops[1]) {
                Insn::new(class | op | BPF_X, dst, reg(ops[1])?, 0, 0)
            } else {
                Insn::new(class | op | BPF_K, dst, 0, 0, imm32(ops[1])?)
            };
            i.off = self.target(line, ops[2], false)? as i16;
            i
        } else if let Some(sz) = m.strip_prefix("ldxs").and_then(size_of) {
            Self::operands(m, &ops, 2)?;
            if sz == BPF_DW {
                return Err(format!("Invalid mnemonic: {m}"));
            }
            let (src, off) = mem(ops[1])?;
            Insn::new(BPF_LDX | BPF_MEMSX | sz, reg(ops[0])?, src, off, 0)
        } else if let Some(sz) = m.strip_prefix("ldx").and_then(size_of) {
            Self::operands(m, &ops, 2)?;
            let dst = reg(ops[0])?;
            let (src, off) = mem(ops[1])?;
            Insn::ldx(sz, dst, src, off)
        } else if let Some(sz) = m.strip_prefix("stx").and_then(size_of) {
            Self::operands(m, &ops, 2)?;
            let (dst, off) = mem(ops[0])?;
            Insn::stx(sz, dst, reg(ops[1])?, off)
        } else if let Some(sz) = m.strip_prefix("st").and_then(size_of) {
            Self::operands(m, &ops, 2)?;
            let (dst, off) = mem(ops[0])?;
            Insn::st(sz, dst, off, imm32(ops[1])?)
        } else if let Some(sz) = m
            .strip_prefix("ldabs")
            .and_then(size_of)
            .filter(|s| *s != BPF_DW)
        {
            Self::operands(m, &ops, 1)?;
            Insn::new(BPF_LD | BPF_ABS | sz, 0, 0, 0, imm32(ops[0])?)
        } else if let Some(sz) = m
            .strip_prefix("ldind")
            .and_then(size_of)
            .filter(|s| *s != BPF_DW)
        {
            Self::operands(m, &ops, 2)?;
            Insn::new(BPF_LD | BPF_IND | sz, 0, reg(ops[0])?, 0, imm32(ops[1])?)
        } else {
            return Err(format!("Invalid mnemonic: {m}"));
        };
        self.out.push(insn);
        Ok(())
    }

    fn alu(&mut self, m: &str, ops: &[&str]) -> R<Option<Insn>> {
        // Byte swaps and conversions: one register operand, width in the name.
        for (prefix, code) in [
            ("bswap", BPF_ALU64 | BPF_END),
            ("swap", BPF_ALU64 | BPF_END),
            ("be", BPF_ALU | BPF_END | BPF_X),
            ("le", BPF_ALU | BPF_END),
        ] {
            if let Some(w @ ("16" | "32" | "64")) = m.strip_prefix(prefix) {
                Self::operands(m, ops, 1)?;
                let width = w.parse().map_err(|_| format!("Invalid mnemonic: {m}"))?;
                return Ok(Some(Insn::new(code, reg(ops[0])?, 0, 0, width)));
            }
        }
        if let Some(rest) = m.strip_prefix("movsx") {
            let (from, wide) = match rest {
                "832" => (8, false),
                "864" => (8, true),
                "1632" => (16, false),
                "1664" => (16, true),
                "3264" => (32, true),
                _ => return Err(format!("Invalid mnemonic: {m}")),
            };
            Self::operands(m, ops, 2)?;
            let class = if wide { BPF_ALU64 } else { BPF_ALU };
            if !is_reg(ops[1]) {
                return Err(format!("movsx needs a source register: {}", ops[1]));
            }
            return Ok(Some(Insn::new(
                class | BPF_MOV | BPF_X,
                reg(ops[0])?,
                reg(ops[1])?,
                from,
                0,
            )));
        }
        let (base, wide) = width_suffix(m);
        let class = if wide { BPF_ALU64 } else { BPF_ALU };
        if base == "neg" {
            Self::operands(m, ops, 1)?;
            return Ok(Some(Insn::new(class | BPF_NEG, reg(ops[0])?, 0, 0, 0)));
        }
        let Some((op, off)) = alu_op(base) else {
            return Ok(None);
        };
        Self::operands(m, ops, 2)?;
        let dst = reg(ops[0])?;
        Ok(Some(if is_reg(ops[1]) {
            Insn::new(class | op | BPF_X, dst, reg(ops[1])?, off, 0)
        } else {
            Insn::new(class | op | BPF_K, dst, 0, off, imm32(ops[1])?)
        }))
    }

    fn call(&mut self, line: usize, rest: &str) -> R<Insn> {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (mode, target) = match words[..] {
            [t] => ("helper", t),
            [m, t] => (m, t),
            _ => return Err("Invalid number of operands for mnemonic: call".into()),
        };
        Ok(match mode {
            "helper" if is_reg(target) => {
                Insn::new(BPF_JMP | BPF_CALL | BPF_X, reg(target)?, 0, 0, 0)
            }
            "helper" => Insn::call(imm32(target)?),
            "local" => {
                let imm = self.target(line, target, true)?;
                Insn::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, imm as i32)
            }
            "runtime" => Insn::new(BPF_JMP | BPF_CALL, 0, 2, 0, imm32(target)?),
            _ => return Err(format!("Invalid call mode: {mode}")),
        })
    }

    /// `lock [fetch] op[32] [mem], %src`.
    fn lock(&mut self, rest: &str) -> R<()> {
        let bad = || "Invalid number of operands for lock".to_string();
        let mut t = rest.trim();
        let mut fetch = false;
        if let Some(r) = t
            .strip_prefix("fetch")
            .filter(|r| r.starts_with(char::is_whitespace))
        {
            fetch = true;
            t = r.trim_start();
        }
        let (op, tail) = match t.find(char::is_whitespace) {
            Some(i) => (&t[..i], t[i..].trim()),
            None => return Err(bad()),
        };
        let ops: Vec<&str> = tail.split(',').map(str::trim).collect();
        if ops.len() != 2 || ops.iter().any(|o| o.is_empty()) {
            return Err(bad());
        }
        let (base, wide) = width_suffix(op);
        if op.ends_with("64") {
            return Err(format!("Invalid atomic operation: {op}"));
        }
        let imm = match base {
            "add" => BPF_ADD as i32,
            "and" => BPF_AND as i32,
            "or" => BPF_OR as i32,
            "xor" => BPF_XOR as i32,
            "xchg" => BPF_XCHG,
            "cmpxchg" => BPF_CMPXCHG,
            _ => return Err(format!("Invalid atomic operation: {op}")),
        } | if fetch { BPF_FETCH } else { 0 };
        let (dst, off) = mem(ops[0])?;
        let size = if wide { BPF_DW } else { BPF_W };
        self.out
            .push(Insn::atomic(size, dst, reg(ops[1])?, off, imm));
        Ok(())
    }
}

/// Assemble a program. Errors name the 1-based line of `text`.
pub fn assemble(text: &str) -> Result<Vec<Insn>, AsmError> {
    let mut a = Asm {
        out: vec![],
        labels: HashMap::new(),
        fixups: vec![],
        first_exit: None,
    };
    let mut last_line = 0;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        last_line = line;
        let err = |message: String| AsmError { line, message };
        let mut s = raw.split('#').next().unwrap_or("").trim();
        // Labels, possibly followed by an instruction on the same line.
        while let Some(i) = s.find(':') {
            let name = s[..i].trim();
            if !is_label(name) {
                return Err(err(format!("Invalid label: {name}")));
            }
            if a.labels.insert(name.to_string(), a.out.len()).is_some() {
                return Err(err(format!("Duplicate label: {name}")));
            }
            s = s[i + 1..].trim();
        }
        if s.is_empty() {
            continue;
        }
        a.insn(line, s).map_err(err)?;
    }
    if a.out.is_empty() {
        return Err(AsmError {
            line: last_line.max(1),
            message: "No instructions".into(),
        });
    }
    for (slot, line, fix) in std::mem::take(&mut a.fixups) {
        let err = |message: String| AsmError { line, message };
        let name = match &fix {
            Fixup::Off(n) | Fixup::Imm(n) => n,
        };
        let target = match a.labels.get(name) {
            Some(t) => *t,
            None if name == "exit" && a.first_exit.is_some() => a.first_exit.unwrap_or(0),
            None => return Err(err(format!("Invalid label: {name}"))),
        };
        let rel = target as i64 - slot as i64 - 1;
        match fix {
            Fixup::Off(_) => {
                a.out[slot].off = i16::try_from(rel)
                    .map_err(|_| err(format!("Jump to {name} is out of range")))?;
            }
            Fixup::Imm(_) => {
                a.out[slot].imm = i32::try_from(rel)
                    .map_err(|_| err(format!("Jump to {name} is out of range")))?;
            }
        }
    }
    Ok(a.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> [u8; 8] {
        let p = assemble(s).unwrap();
        assert_eq!(p.len(), 1, "{s}");
        p[0].encode()
    }

    /// Exact bytes, as rbpf's assembler tests pin them.
    #[test]
    fn pinned_bytes() {
        assert_eq!(one("mov %r0, 1"), [0xb7, 0x00, 0, 0, 1, 0, 0, 0]);
        assert_eq!(
            one("add32 %r0, -3"),
            [0x04, 0x00, 0, 0, 0xfd, 0xff, 0xff, 0xff]
        );
        assert_eq!(one("add64 %r1, %r2"), [0x0f, 0x21, 0, 0, 0, 0, 0, 0]);
        assert_eq!(one("ldxw %r0, [%r1+4]"), [0x61, 0x10, 4, 0, 0, 0, 0, 0]);
        assert_eq!(
            one("stxdw [%r10-8], %r1"),
            [0x7b, 0x1a, 0xf8, 0xff, 0, 0, 0, 0]
        );
        assert_eq!(one("stw [%r1+2], 5"), [0x62, 0x01, 2, 0, 5, 0, 0, 0]);
        assert_eq!(
            one("stw [%r10-4], 0x80000001"),
            [0x62, 0x0a, 0xfc, 0xff, 1, 0, 0, 0x80]
        );
        assert_eq!(
            one("lock add [%r10-8], %r1"),
            [0xdb, 0x1a, 0xf8, 0xff, 0, 0, 0, 0]
        );
        assert_eq!(
            one("lock fetch add32 [%r10-4], %r1"),
            [0xc3, 0x1a, 0xfc, 0xff, 1, 0, 0, 0]
        );
        assert_eq!(
            one("lock xchg [%r10-8], %r1"),
            [0xdb, 0x1a, 0xf8, 0xff, 0xe1, 0, 0, 0]
        );
        assert_eq!(
            one("lock cmpxchg32 [%r10-8], %r1"),
            [0xc3, 0x1a, 0xf8, 0xff, 0xf1, 0, 0, 0]
        );
        assert_eq!(one("jeq %r1, 5, +2"), [0x15, 0x01, 2, 0, 5, 0, 0, 0]);
        assert_eq!(
            one("jsle32 %r1, %r2, -1"),
            [0xde, 0x21, 0xff, 0xff, 0, 0, 0, 0]
        );
        assert_eq!(one("call 5"), [0x85, 0, 0, 0, 5, 0, 0, 0]);
        assert_eq!(one("call %r2"), [0x8d, 0x02, 0, 0, 0, 0, 0, 0]);
        assert_eq!(one("exit"), [0x95, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(one("be16 %r3"), [0xdc, 0x03, 0, 0, 16, 0, 0, 0]);
        assert_eq!(one("le64 %r3"), [0xd4, 0x03, 0, 0, 64, 0, 0, 0]);
        assert_eq!(one("swap32 %r0"), [0xd7, 0x00, 0, 0, 32, 0, 0, 0]);
        assert_eq!(one("bswap64 %r0"), [0xd7, 0x00, 0, 0, 64, 0, 0, 0]);
        assert_eq!(one("neg32 %r2"), [0x84, 0x02, 0, 0, 0, 0, 0, 0]);
        assert_eq!(one("sdiv %r1, 3"), [0x37, 0x01, 1, 0, 3, 0, 0, 0]);
        assert_eq!(one("smod32 %r1, %r2"), [0x9c, 0x21, 1, 0, 0, 0, 0, 0]);
        assert_eq!(one("movsx832 %r0, %r1"), [0xbc, 0x10, 8, 0, 0, 0, 0, 0]);
        assert_eq!(one("movsx3264 %r0, %r9"), [0xbf, 0x90, 32, 0, 0, 0, 0, 0]);
        assert_eq!(
            one("ldxsh %r0, [%r10-2]"),
            [0x89, 0xa0, 0xfe, 0xff, 0, 0, 0, 0]
        );
        assert_eq!(one("ja32 +3"), [0x06, 0, 0, 0, 3, 0, 0, 0]);
        let l = assemble("lddw %r0, 0x1122334455667788").unwrap();
        assert_eq!(l, Insn::lddw(0, 0x1122_3344_5566_7788).to_vec());
    }

    #[test]
    fn labels_and_default_exit() {
        let p = assemble("ja L\nmov %r0, 1\nL: exit\n").unwrap();
        assert_eq!(p[0].off, 1);
        let p = assemble("jeq %r1, 0, exit # taken\nmov %r0, 2\nexit\n").unwrap();
        assert_eq!(p[0].off, 1);
        let p = assemble("call local f\nexit\nf:\nlddw %r0, 1\nja32 f\n").unwrap();
        assert_eq!((p[0].src, p[0].imm), (1, 1));
        assert_eq!(p[4].imm, -3);
    }

    #[test]
    fn errors_name_the_line() {
        let e = |s: &str| assemble(s).unwrap_err();
        assert_eq!(e("mov %r0, 1\nor %r0, %r50\n").line, 2);
        assert!(e("or %r0, %r50").message.contains("Invalid register"));
        assert!(e("lock or [%r10-8]")
            .message
            .contains("Invalid number of operands for lock"));
        assert!(e("lock")
            .message
            .contains("Invalid number of operands for lock"));
        assert!(e("ldxq %r0, %r1").message.contains("Invalid mnemonic"));
        assert!(e("ldxb %r0, %r1").message.contains("register and offset"));
        assert!(e("ldxb %r0, [%r1+0x10000]")
            .message
            .contains("out of range"));
        assert!(e("mov32 %r0, 2147483648").message.contains("out of range"));
        assert!(e("mov32 %r0, 0x100000000").message.contains("out of range"));
        assert!(e("ja NOT_A_LABEL\nexit").message.contains("Invalid label"));
        assert!(e("lddw %r0").message.contains("operands"));
        assert!(e("").message.contains("No instructions"));
        assert!(e("a:\na:\nexit").message.contains("Duplicate"));
    }
}
