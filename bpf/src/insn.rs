//! One BPF instruction (RFC 9669 encoding), opcode constants and small
//! constructors used by the backend, the assembler and the tests.
//!
//! An `Insn` is one 8-byte slot; `lddw` takes two slots, the second holding
//! the upper 32 bits of the immediate in its `imm` (code 0).

/// One 8-byte instruction slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    pub code: u8,
    /// Destination register, 0..=10 (low nibble of byte 1).
    pub dst: u8,
    /// Source register, 0..=10 (high nibble of byte 1); also the pseudo
    /// source of `lddw` (1 = map fd, 2 = map value) and of `call` (1 = BPF-to-BPF).
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

// Instruction classes (low 3 bits).
pub const BPF_LD: u8 = 0x00;
pub const BPF_LDX: u8 = 0x01;
pub const BPF_ST: u8 = 0x02;
pub const BPF_STX: u8 = 0x03;
pub const BPF_ALU: u8 = 0x04;
pub const BPF_JMP: u8 = 0x05;
pub const BPF_JMP32: u8 = 0x06;
pub const BPF_ALU64: u8 = 0x07;

// Sizes (load/store).
pub const BPF_W: u8 = 0x00;
pub const BPF_H: u8 = 0x08;
pub const BPF_B: u8 = 0x10;
pub const BPF_DW: u8 = 0x18;

// Modes (load/store).
pub const BPF_IMM: u8 = 0x00;
pub const BPF_ABS: u8 = 0x20;
pub const BPF_IND: u8 = 0x40;
pub const BPF_MEM: u8 = 0x60;
pub const BPF_MEMSX: u8 = 0x80;
pub const BPF_ATOMIC: u8 = 0xc0;

// Source operand.
pub const BPF_K: u8 = 0x00;
pub const BPF_X: u8 = 0x08;

// ALU operations (high 4 bits).
pub const BPF_ADD: u8 = 0x00;
pub const BPF_SUB: u8 = 0x10;
pub const BPF_MUL: u8 = 0x20;
pub const BPF_DIV: u8 = 0x30;
pub const BPF_OR: u8 = 0x40;
pub const BPF_AND: u8 = 0x50;
pub const BPF_LSH: u8 = 0x60;
pub const BPF_RSH: u8 = 0x70;
pub const BPF_NEG: u8 = 0x80;
pub const BPF_MOD: u8 = 0x90;
pub const BPF_XOR: u8 = 0xa0;
pub const BPF_MOV: u8 = 0xb0;
pub const BPF_ARSH: u8 = 0xc0;
pub const BPF_END: u8 = 0xd0;

// Jump operations (high 4 bits).
pub const BPF_JA: u8 = 0x00;
pub const BPF_JEQ: u8 = 0x10;
pub const BPF_JGT: u8 = 0x20;
pub const BPF_JGE: u8 = 0x30;
pub const BPF_JSET: u8 = 0x40;
pub const BPF_JNE: u8 = 0x50;
pub const BPF_JSGT: u8 = 0x60;
pub const BPF_JSGE: u8 = 0x70;
pub const BPF_CALL: u8 = 0x80;
pub const BPF_EXIT: u8 = 0x90;
pub const BPF_JLT: u8 = 0xa0;
pub const BPF_JLE: u8 = 0xb0;
pub const BPF_JSLT: u8 = 0xc0;
pub const BPF_JSLE: u8 = 0xd0;

// Atomic operations (in `imm` of BPF_STX | BPF_ATOMIC).
pub const BPF_FETCH: i32 = 0x01;
pub const BPF_XCHG: i32 = 0xe0 | BPF_FETCH;
pub const BPF_CMPXCHG: i32 = 0xf0 | BPF_FETCH;

/// `src` of `lddw` loading a map by fd (or, in an `Object`, by map index).
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `src` of `lddw` loading the address of a map's value (`imm` = map, next imm = offset).
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;
/// `src` of `call` for a BPF-to-BPF call (`imm` = relative insn offset).
pub const BPF_PSEUDO_CALL: u8 = 1;

/// Frame pointer register.
pub const R10: u8 = 10;

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The 8 little-endian bytes of this slot.
    pub fn encode(&self) -> [u8; 8] {
        let imm = self.imm.to_le_bytes();
        let off = self.off.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    pub fn decode(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    pub fn class(&self) -> u8 {
        self.code & 0x07
    }

    /// True for the first slot of a 16-byte `lddw`.
    pub fn is_lddw(&self) -> bool {
        self.code == BPF_LD | BPF_IMM | BPF_DW
    }

    // ---- constructors (64-bit ALU unless named otherwise) ----

    pub const fn alu64_reg(op: u8, dst: u8, src: u8) -> Insn {
        Insn::new(BPF_ALU64 | op | BPF_X, dst, src, 0, 0)
    }
    pub const fn alu64_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn::new(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm)
    }
    pub const fn alu32_reg(op: u8, dst: u8, src: u8) -> Insn {
        Insn::new(BPF_ALU | op | BPF_X, dst, src, 0, 0)
    }
    pub const fn alu32_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn::new(BPF_ALU | op | BPF_K, dst, 0, 0, imm)
    }
    pub const fn mov64_reg(dst: u8, src: u8) -> Insn {
        Insn::alu64_reg(BPF_MOV, dst, src)
    }
    pub const fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn::alu64_imm(BPF_MOV, dst, imm)
    }
    /// Signed division/modulo (ISA v4, `off` = 1).
    pub const fn sdiv64_reg(dst: u8, src: u8) -> Insn {
        Insn::new(BPF_ALU64 | BPF_DIV | BPF_X, dst, src, 1, 0)
    }
    pub const fn smod64_reg(dst: u8, src: u8) -> Insn {
        Insn::new(BPF_ALU64 | BPF_MOD | BPF_X, dst, src, 1, 0)
    }
    /// `lddw dst, imm64` as its two slots.
    pub const fn lddw(dst: u8, imm: i64) -> [Insn; 2] {
        [
            Insn::new(BPF_LD | BPF_IMM | BPF_DW, dst, 0, 0, imm as i32),
            Insn::new(0, 0, 0, 0, (imm >> 32) as i32),
        ]
    }
    /// `lddw dst, map` by map index (patched to an fd by the loader).
    pub const fn ld_map(dst: u8, map_index: u32) -> [Insn; 2] {
        [
            Insn::new(
                BPF_LD | BPF_IMM | BPF_DW,
                dst,
                BPF_PSEUDO_MAP_FD,
                0,
                map_index as i32,
            ),
            Insn::new(0, 0, 0, 0, 0),
        ]
    }
    pub const fn ldx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_LDX | BPF_MEM | size, dst, src, off, 0)
    }
    pub const fn stx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_STX | BPF_MEM | size, dst, src, off, 0)
    }
    pub const fn st(size: u8, dst: u8, off: i16, imm: i32) -> Insn {
        Insn::new(BPF_ST | BPF_MEM | size, dst, 0, off, imm)
    }
    pub const fn atomic(size: u8, dst: u8, src: u8, off: i16, op: i32) -> Insn {
        Insn::new(BPF_STX | BPF_ATOMIC | size, dst, src, off, op)
    }
    pub const fn jmp_reg(op: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_JMP | op | BPF_X, dst, src, off, 0)
    }
    pub const fn jmp_imm(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(BPF_JMP | op | BPF_K, dst, 0, off, imm)
    }
    pub const fn ja(off: i16) -> Insn {
        Insn::new(BPF_JMP | BPF_JA, 0, 0, off, 0)
    }
    pub const fn call(helper: i32) -> Insn {
        Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, helper)
    }
    pub const fn exit() -> Insn {
        Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
    }
}

/// Encode a program's slots as bytes.
pub fn encode_all(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.encode()).collect()
}

/// Decode bytes into slots; the length must be a multiple of 8.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(DecodeError::Length(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| Insn::decode([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The byte length is not a multiple of 8.
    Length(usize),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Length(n) => {
                write!(f, "program is {n} bytes long, not a multiple of 8")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_pins_bytes() {
        // r1 = r10 ; *(u64 *)(r10 - 8) = r1 ; lddw r1, 0x1122334455667788
        assert_eq!(
            Insn::mov64_reg(1, 10).encode(),
            [0xbf, 0xa1, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            Insn::stx(BPF_DW, 10, 1, -8).encode(),
            [0x7b, 0x1a, 0xf8, 0xff, 0, 0, 0, 0]
        );
        let l = Insn::lddw(1, 0x1122_3344_5566_7788);
        assert_eq!(l[0].encode(), [0x18, 0x01, 0, 0, 0x88, 0x77, 0x66, 0x55]);
        assert_eq!(l[1].encode(), [0, 0, 0, 0, 0x44, 0x33, 0x22, 0x11]);
    }

    #[test]
    fn decode_inverts_encode() {
        let i = Insn::new(0x6d, 3, 9, -300, -5);
        assert_eq!(Insn::decode(i.encode()), i);
        assert!(decode_all(&[0u8; 12]).is_err());
    }
}
