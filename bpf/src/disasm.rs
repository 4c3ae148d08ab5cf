//! Disassembler in the syntax of `llvm-objdump -d` (`r1 = r10`,
//! `*(u64 *)(r10 - 8) = r1`, `if r1 > 5 goto +3`, `call 1`, `r1 = 0 ll`), and
//! a bpftool-like listing of a whole program.
//!
//! Every instruction of RFC 9669 and Linux's additions is covered. Where the
//! LLVM on this machine (14) prints `<unknown>` because it predates an
//! instruction (store-immediate, `%=`, `&` jumps, ISA v4: signed div/mod,
//! `movsx`, `bswap`, `gotol`, sign-extending loads), the text is the one newer
//! LLVM releases print, so a listing never has holes. 32-bit atomics use the
//! `w` register forms (what LLVM prints with `+alu32`, the only faithful form).
//! `callx` names the register in `dst`, as the kernel encodes it.
//!
//! Map references print as LLVM prints pseudo loads, `ld_pseudo r1, 1, 3`
//! (source 1 = map fd, 2 = map value; in an `Object` the last number is the
//! map index); `disasm_program_with_maps` names the maps instead, bpftool
//! style. `check_insn`/`check_program` decode strictly, as the kernel does
//! (unused fields must be zero), for the simulator and the mini-verifier.
//!
//! Decoding never panics: a bad opcode, a reserved field that changes the
//! meaning, or a truncated `lddw` prints an `<invalid ...>` marker instead.

use crate::insn::*;
use std::fmt;

/// Why a slot does not decode to an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// No instruction has this opcode (or this opcode with this `off`/`imm`
    /// selector, e.g. `le` with a width other than 16/32/64).
    Opcode { code: u8 },
    /// A field that selects a variant holds a value no variant has.
    Field {
        code: u8,
        field: &'static str,
        value: i64,
    },
    /// `lddw` is the last slot of the program.
    TruncatedLddw,
    /// The second slot of an `lddw` has a non-zero code, registers or offset.
    BadLddwSecondSlot,
    /// Asked for a slot past the end of the program.
    OutOfRange { index: usize },
    /// A field the instruction does not use is not zero (RFC 9669 requires
    /// it; only `check_insn` reports this, the text ignores such fields as
    /// llvm-objdump does).
    Reserved { code: u8, field: &'static str },
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Opcode { code } => write!(f, "<invalid opcode {code:#04x}>"),
            Invalid::Field { code, field, value } => {
                write!(f, "<invalid {field} {value} for opcode {code:#04x}>")
            }
            Invalid::TruncatedLddw => write!(f, "<invalid: truncated lddw>"),
            Invalid::BadLddwSecondSlot => write!(f, "<invalid: bad second slot of lddw>"),
            Invalid::OutOfRange { index } => write!(f, "<invalid: no instruction {index}>"),
            Invalid::Reserved { code, field } => {
                write!(
                    f,
                    "<invalid: unused field {field} is not zero for opcode {code:#04x}>"
                )
            }
        }
    }
}

impl std::error::Error for Invalid {}

/// The text of the instruction starting at `insns[index]` and the number of
/// slots it uses (2 for `lddw`, else 1). Undecodable slots give an
/// `<invalid ...>` marker and 1 slot, so a listing can always go on.
pub fn format_insn(insns: &[Insn], index: usize) -> (String, usize) {
    match decode_text(insns, index) {
        Ok(r) => r,
        Err(e) => (e.to_string(), 1),
    }
}

/// Like `format_insn` but reporting why a slot is invalid.
pub fn decode_text(insns: &[Insn], index: usize) -> Result<(String, usize), Invalid> {
    let insn = *insns.get(index).ok_or(Invalid::OutOfRange { index })?;
    if insn.is_lddw() {
        let next = insns.get(index + 1).ok_or(Invalid::TruncatedLddw)?;
        return lddw_text(&insn, next).map(|s| (s, 2));
    }
    one_text(&insn).map(|s| (s, 1))
}

/// Strict decoding of the instruction at `index`, as the kernel does it:
/// what `decode_text` checks, plus that every field the instruction does
/// not use is zero and registers are r0..=r10. Returns the slots used.
pub fn check_insn(insns: &[Insn], index: usize) -> Result<usize, Invalid> {
    let (_, n) = decode_text(insns, index)?;
    let i = insns[index];
    let code = i.code;
    let reserved = |field| Err(Invalid::Reserved { code, field });
    if i.dst > 10 || (i.src > 10 && !i.is_lddw()) {
        return Err(Invalid::Field {
            code,
            field: "register",
            value: i.dst.max(i.src) as i64,
        });
    }
    let x = code & BPF_X != 0;
    let op = code & 0xf0;
    match i.class() {
        BPF_ALU | BPF_ALU64 => {
            if op == BPF_NEG || op == BPF_END {
                if i.src != 0 {
                    return reserved("src");
                }
                if i.off != 0 {
                    return reserved("offset");
                }
                if op == BPF_NEG && i.imm != 0 {
                    return reserved("imm");
                }
            } else if x && i.imm != 0 {
                return reserved("imm");
            } else if !x && i.src != 0 {
                return reserved("src");
            } else if !matches!(op, BPF_DIV | BPF_MOD | BPF_MOV) && i.off != 0 {
                return reserved("offset");
            }
        }
        BPF_JMP | BPF_JMP32 => match op {
            BPF_JA => {
                if i.dst != 0 {
                    return reserved("dst");
                }
                if i.src != 0 {
                    return reserved("src");
                }
                if i.class() == BPF_JMP && i.imm != 0 {
                    return reserved("imm");
                }
                if i.class() == BPF_JMP32 && i.off != 0 {
                    return reserved("offset");
                }
            }
            BPF_CALL => {
                if i.off != 0 {
                    return reserved("offset");
                }
                if x {
                    if i.src != 0 {
                        return reserved("src");
                    }
                    if i.imm != 0 {
                        return reserved("imm");
                    }
                } else {
                    if i.dst != 0 {
                        return reserved("dst");
                    }
                    if i.src > 2 {
                        return Err(Invalid::Field {
                            code,
                            field: "src",
                            value: i.src as i64,
                        });
                    }
                }
            }
            BPF_EXIT => {
                if i.dst != 0 {
                    return reserved("dst");
                }
                if i.src != 0 {
                    return reserved("src");
                }
                if i.off != 0 {
                    return reserved("offset");
                }
                if i.imm != 0 {
                    return reserved("imm");
                }
            }
            _ => {
                if x && i.imm != 0 {
                    return reserved("imm");
                }
                if !x && i.src != 0 {
                    return reserved("src");
                }
            }
        },
        BPF_LD => {
            if i.off != 0 {
                return reserved("offset");
            }
            if !i.is_lddw() && i.dst != 0 {
                return reserved("dst");
            }
            if code & 0xe0 == BPF_ABS && i.src != 0 {
                return reserved("src");
            }
        }
        BPF_LDX => {
            if i.imm != 0 {
                return reserved("imm");
            }
        }
        BPF_ST => {
            if i.src != 0 {
                return reserved("src");
            }
        }
        _ => {
            if code & 0xe0 == BPF_MEM && i.imm != 0 {
                return reserved("imm");
            }
        }
    }
    Ok(n)
}

/// `check_insn` over a whole program: the first bad slot and why.
pub fn check_program(insns: &[Insn]) -> Result<(), (usize, Invalid)> {
    let mut i = 0;
    while i < insns.len() {
        i += check_insn(insns, i).map_err(|e| (i, e))?;
    }
    Ok(())
}

/// One line per instruction, `   N: text`, numbered by slot (an `lddw` takes
/// two slot numbers, so the next line's number jumps by 2), as bpftool does.
pub fn disasm_program(insns: &[Insn]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < insns.len() {
        let (text, n) = format_insn(insns, i);
        out.push_str(&format!("{i:>4}: {text}\n"));
        i += n.max(1);
    }
    out
}

/// Like `disasm_program`, but map references name the map the way bpftool
/// does (`r1 = map[stapc_control] ll`, `r1 = map[stapc_globals][0]+16 ll`);
/// `map_name` gives the name of a map index.
pub fn disasm_program_with_maps<'a>(
    insns: &[Insn],
    map_name: impl Fn(u32) -> Option<&'a str>,
) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < insns.len() {
        let (mut text, n) = format_insn(insns, i);
        let insn = insns[i];
        if n == 2 && (insn.src == BPF_PSEUDO_MAP_FD || insn.src == BPF_PSEUDO_MAP_VALUE) {
            let name = map_name(insn.imm as u32)
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{}", insn.imm as u32));
            text = if insn.src == BPF_PSEUDO_MAP_FD {
                format!("r{} = map[{name}] ll", insn.dst)
            } else {
                format!(
                    "r{} = map[{name}][0]+{} ll",
                    insn.dst,
                    insns[i + 1].imm as u32
                )
            };
        }
        out.push_str(&format!("{i:>4}: {text}\n"));
        i += n.max(1);
    }
    out
}

fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        BPF_W => "32",
        BPF_H => "16",
        BPF_B => "8",
        _ => "64",
    }
}

/// `(r1 + 4)` / `(r10 - 8)`, as LLVM prints memory operands.
fn mem(base: u8, off: i16) -> String {
    if off < 0 {
        format!("(r{base} - {})", -(off as i32))
    } else {
        format!("(r{base} + {off})")
    }
}

fn jump_off(off: i64) -> String {
    if off < 0 {
        format!("{off}")
    } else {
        format!("+{off}")
    }
}

fn lddw_text(insn: &Insn, next: &Insn) -> Result<String, Invalid> {
    if next.code != 0 || next.dst != 0 || next.src != 0 || next.off != 0 {
        return Err(Invalid::BadLddwSecondSlot);
    }
    let d = insn.dst;
    Ok(match insn.src {
        0 => {
            let v = (insn.imm as u32 as u64) | ((next.imm as u32 as u64) << 32);
            format!("r{d} = {} ll", v as i64)
        }
        // The kernel's pseudo sources (map fd, map value, BTF id, func, ...):
        // LLVM prints them all as `ld_pseudo dst, src, imm`.
        1..=6 => format!("ld_pseudo r{d}, {}, {}", insn.src, insn.imm),
        s => {
            return Err(Invalid::Field {
                code: insn.code,
                field: "src",
                value: s as i64,
            });
        }
    })
}

fn one_text(insn: &Insn) -> Result<String, Invalid> {
    let bad = Err(Invalid::Opcode { code: insn.code });
    let code = insn.code;
    match insn.class() {
        BPF_ALU | BPF_ALU64 => alu_text(insn),
        BPF_JMP | BPF_JMP32 => jmp_text(insn),
        BPF_LD => {
            let mode = code & 0xe0;
            let size = code & 0x18;
            if size == BPF_DW {
                return bad;
            }
            match mode {
                BPF_ABS => Ok(format!("r0 = *(u{} *)skb[{}]", size_name(code), insn.imm)),
                BPF_IND => Ok(format!("r0 = *(u{} *)skb[r{}]", size_name(code), insn.src)),
                _ => bad,
            }
        }
        BPF_LDX => {
            let sz = size_name(code);
            match code & 0xe0 {
                BPF_MEM => Ok(format!(
                    "r{} = *(u{sz} *){}",
                    insn.dst,
                    mem(insn.src, insn.off)
                )),
                BPF_MEMSX if code & 0x18 != BPF_DW => Ok(format!(
                    "r{} = *(s{sz} *){}",
                    insn.dst,
                    mem(insn.src, insn.off)
                )),
                _ => bad,
            }
        }
        BPF_ST => match code & 0xe0 {
            BPF_MEM => Ok(format!(
                "*(u{} *){} = {}",
                size_name(code),
                mem(insn.dst, insn.off),
                insn.imm
            )),
            _ => bad,
        },
        // BPF_STX
        _ => {
            let sz = size_name(code);
            match code & 0xe0 {
                BPF_MEM => Ok(format!(
                    "*(u{sz} *){} = r{}",
                    mem(insn.dst, insn.off),
                    insn.src
                )),
                BPF_ATOMIC if code & 0x18 == BPF_DW || code & 0x18 == BPF_W => atomic_text(insn),
                _ => bad,
            }
        }
    }
}

fn atomic_text(insn: &Insn) -> Result<String, Invalid> {
    let wide = insn.code & 0x18 == BPF_DW;
    let (r, sz) = if wide { ('r', "64") } else { ('w', "32") };
    let m = mem(insn.dst, insn.off);
    let s = insn.src;
    let fetch = insn.imm & BPF_FETCH != 0;
    let op = match insn.imm & !BPF_FETCH {
        x if x == BPF_ADD as i32 => Some(("+=", "add")),
        x if x == BPF_OR as i32 => Some(("|=", "or")),
        x if x == BPF_AND as i32 => Some(("&=", "and")),
        x if x == BPF_XOR as i32 => Some(("^=", "xor")),
        _ => None,
    };
    Ok(match (op, insn.imm) {
        (Some((sym, _)), _) if !fetch => format!("lock *(u{sz} *){m} {sym} {r}{s}"),
        (Some((_, name)), _) => {
            format!("{r}{s} = atomic_fetch_{name}((u{sz} *){m}, {r}{s})")
        }
        (None, BPF_XCHG) => {
            let f = if wide { "xchg_64" } else { "xchg32_32" };
            format!("{r}{s} = {f}({}, {r}{s})", &m[1..m.len() - 1])
        }
        (None, BPF_CMPXCHG) => {
            let f = if wide { "cmpxchg_64" } else { "cmpxchg32_32" };
            format!("{r}0 = {f}({}, {r}0, {r}{s})", &m[1..m.len() - 1])
        }
        _ => {
            return Err(Invalid::Field {
                code: insn.code,
                field: "imm",
                value: insn.imm as i64,
            })
        }
    })
}

fn alu_text(insn: &Insn) -> Result<String, Invalid> {
    let code = insn.code;
    let wide = insn.class() == BPF_ALU64;
    let p = if wide { 'r' } else { 'w' };
    let d = insn.dst;
    let x = code & BPF_X != 0;
    let op = code & 0xf0;
    let rhs = if x {
        format!("{p}{}", insn.src)
    } else {
        format!("{}", insn.imm)
    };
    let field = |field, value: i64| Invalid::Field { code, field, value };
    let sym = match op {
        BPF_ADD => "+=",
        BPF_SUB => "-=",
        BPF_MUL => "*=",
        BPF_DIV | BPF_MOD => {
            let signed = match insn.off {
                0 => "",
                1 => "s",
                o => return Err(field("offset", o as i64)),
            };
            let s = if op == BPF_DIV { "/=" } else { "%=" };
            return Ok(format!("{p}{d} {signed}{s} {rhs}"));
        }
        BPF_OR => "|=",
        BPF_AND => "&=",
        BPF_LSH => "<<=",
        BPF_RSH => ">>=",
        BPF_XOR => "^=",
        BPF_ARSH => "s>>=",
        BPF_NEG => {
            if x {
                return Err(Invalid::Opcode { code });
            }
            return Ok(format!("{p}{d} = -{p}{d}"));
        }
        BPF_MOV => {
            return match (x, insn.off) {
                (_, 0) => Ok(format!("{p}{d} = {rhs}")),
                (true, 8 | 16) => Ok(format!("{p}{d} = (s{}){p}{}", insn.off, insn.src)),
                (true, 32) if wide => Ok(format!("r{d} = (s32)r{}", insn.src)),
                (_, o) => Err(field("offset", o as i64)),
            };
        }
        BPF_END => {
            if x && wide {
                return Err(Invalid::Opcode { code });
            }
            let width = match insn.imm {
                16 | 32 | 64 => insn.imm,
                w => return Err(field("imm", w as i64)),
            };
            let name = if wide {
                "bswap"
            } else if x {
                "be"
            } else {
                "le"
            };
            return Ok(format!("r{d} = {name}{width} r{d}"));
        }
        _ => return Err(Invalid::Opcode { code }),
    };
    Ok(format!("{p}{d} {sym} {rhs}"))
}

fn jmp_text(insn: &Insn) -> Result<String, Invalid> {
    let code = insn.code;
    let wide = insn.class() == BPF_JMP;
    let p = if wide { 'r' } else { 'w' };
    let x = code & BPF_X != 0;
    let op = code & 0xf0;
    let cond = match op {
        BPF_JA => {
            if x {
                return Err(Invalid::Opcode { code });
            }
            return Ok(if wide {
                format!("goto {}", jump_off(insn.off as i64))
            } else {
                format!("gotol {}", jump_off(insn.imm as i64))
            });
        }
        BPF_CALL if wide => {
            return Ok(if x {
                format!("callx r{}", insn.dst)
            } else {
                format!("call {}", insn.imm)
            });
        }
        BPF_EXIT if wide && !x => return Ok("exit".to_string()),
        BPF_JEQ => "==",
        BPF_JGT => ">",
        BPF_JGE => ">=",
        BPF_JSET => "&",
        BPF_JNE => "!=",
        BPF_JSGT => "s>",
        BPF_JSGE => "s>=",
        BPF_JLT => "<",
        BPF_JLE => "<=",
        BPF_JSLT => "s<",
        BPF_JSLE => "s<=",
        _ => return Err(Invalid::Opcode { code }),
    };
    let rhs = if x {
        format!("{p}{}", insn.src)
    } else {
        format!("{}", insn.imm)
    };
    Ok(format!(
        "if {p}{} {cond} {rhs} goto {}",
        insn.dst,
        jump_off(insn.off as i64)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(i: Insn) -> String {
        format_insn(&[i], 0).0
    }

    #[test]
    fn common_forms() {
        assert_eq!(t(Insn::mov64_reg(1, 10)), "r1 = r10");
        assert_eq!(t(Insn::stx(BPF_DW, 10, 1, -8)), "*(u64 *)(r10 - 8) = r1");
        assert_eq!(t(Insn::ldx(BPF_W, 0, 1, 4)), "r0 = *(u32 *)(r1 + 4)");
        assert_eq!(t(Insn::jmp_imm(BPF_JGT, 1, 5, 3)), "if r1 > 5 goto +3");
        assert_eq!(t(Insn::alu32_reg(BPF_ADD, 0, 1)), "w0 += w1");
        assert_eq!(t(Insn::call(1)), "call 1");
        assert_eq!(t(Insn::exit()), "exit");
        assert_eq!(t(Insn::st(BPF_DW, 10, -8, 5)), "*(u64 *)(r10 - 8) = 5");
        assert_eq!(
            t(Insn::atomic(BPF_DW, 1, 2, 0, BPF_ADD as i32)),
            "lock *(u64 *)(r1 + 0) += r2"
        );
        assert_eq!(
            format_insn(&Insn::lddw(1, 0), 0),
            ("r1 = 0 ll".to_string(), 2)
        );
        assert_eq!(
            format_insn(&Insn::ld_map(1, 3), 0),
            ("ld_pseudo r1, 1, 3".to_string(), 2)
        );
    }

    #[test]
    fn isa_v4_forms() {
        assert_eq!(t(Insn::sdiv64_reg(1, 2)), "r1 s/= r2");
        assert_eq!(t(Insn::smod64_reg(1, 2)), "r1 s%= r2");
        assert_eq!(t(Insn::new(0xbf, 1, 2, 8, 0)), "r1 = (s8)r2");
        assert_eq!(t(Insn::new(0xbc, 1, 2, 16, 0)), "w1 = (s16)w2");
        assert_eq!(t(Insn::new(0xbf, 1, 2, 32, 0)), "r1 = (s32)r2");
        assert_eq!(t(Insn::new(0xd7, 1, 0, 0, 32)), "r1 = bswap32 r1");
        assert_eq!(t(Insn::new(0x06, 0, 0, 0, -7)), "gotol -7");
        assert_eq!(t(Insn::new(0x91, 0, 1, -2, 0)), "r0 = *(s8 *)(r1 - 2)");
        assert_eq!(t(Insn::new(0x8d, 2, 0, 0, 0)), "callx r2");
    }

    #[test]
    fn invalid_never_panics() {
        assert_eq!(t(Insn::new(0xff, 0, 0, 0, 0)), "<invalid opcode 0xff>");
        assert_eq!(
            format_insn(&[Insn::lddw(1, 5)[0]], 0).0,
            "<invalid: truncated lddw>"
        );
        assert_eq!(
            t(Insn::new(0xbc, 1, 2, 32, 0)),
            "<invalid offset 32 for opcode 0xbc>"
        );
        assert_eq!(
            t(Insn::new(0xd4, 1, 0, 0, 8)),
            "<invalid imm 8 for opcode 0xd4>"
        );
        assert!(format_insn(&[], 3).0.starts_with("<invalid"));
        for code in 0..=255u8 {
            for (off, imm) in [(0, 0), (1, 16), (-1, -1), (8, 0xe1), (32, 0xf1)] {
                let (s, n) = format_insn(&[Insn::new(code, 15, 15, off, imm)], 0);
                assert!(!s.is_empty() && n == 1);
            }
        }
    }

    #[test]
    fn strict_check_rejects_unused_fields() {
        assert_eq!(
            check_program(&[Insn::mov64_imm(0, 1), Insn::exit()]),
            Ok(())
        );
        let bad = Insn::new(0x07, 0, 0, 1, 1); // add64 with an offset
        assert!(matches!(
            check_insn(&[bad], 0),
            Err(Invalid::Reserved {
                field: "offset",
                ..
            })
        ));
        let bad = Insn::new(0x95, 1, 0, 0, 0); // exit with a dst
        assert_eq!(
            check_program(&[bad]),
            Err((
                0,
                Invalid::Reserved {
                    code: 0x95,
                    field: "dst"
                }
            ))
        );
        assert_eq!(check_insn(&Insn::lddw(1, -1), 0), Ok(2));
        assert!(check_insn(&[Insn::new(0xbf, 11, 0, 0, 0)], 0).is_err());
    }

    #[test]
    fn listing_numbers_slots() {
        let mut p = vec![Insn::mov64_imm(0, 0)];
        p.extend(Insn::lddw(1, -1));
        p.push(Insn::exit());
        assert_eq!(
            disasm_program(&p),
            "   0: r0 = 0\n   1: r1 = -1 ll\n   3: exit\n"
        );
        let mut q = vec![];
        q.extend(Insn::ld_map(1, 1));
        assert_eq!(
            disasm_program_with_maps(&q, |i| (i == 1).then_some("stapc_control")),
            "   0: r1 = map[stapc_control] ll\n"
        );
    }
}
