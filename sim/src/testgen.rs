//! Random programs that the kernel's verifier accepts, for differential
//! testing of the simulator against the real kernel and for fuzzing.
//!
//! A program is decoded from a byte string (`RandomProgram::from_bytes`), so
//! the same structure serves the proptest strategy (random byte vectors,
//! which shrink towards short, simple programs) and the cargo-fuzz target
//! (whatever bytes libFuzzer mutates). Every byte string decodes to a valid
//! program: no input is rejected.
//!
//! Shape of a program (`insns(base)`):
//!
//! - prologue: save the context pointer (r1) at `r10 - 8`; give r0–r9
//!   constants; fill the 64-byte stack area `r10 - 80 .. r10 - 16` so every
//!   later load reads initialised stack (the verifier rejects anything else);
//! - body: ALU64/ALU32 with register and immediate operands (signed
//!   division and modulo included), sign-extending moves, byte swaps,
//!   aligned stack loads (sign-extending too) and stores, and forward
//!   conditional jumps (JMP and JMP32, every condition) that never leave the
//!   body, so no instruction is unreachable;
//! - epilogue: store r0–r9 at `ctx + base + 8*i`, then fold all ten into r0,
//!   store it at `ctx + base + 80` and exit.
//!
//! The context therefore needs `base + DUMP_SIZE` writable bytes (what a
//! sleepable `syscall` program gets from `BPF_PROG_TEST_RUN`, which copies
//! it back). Immediates never divide by zero or shift by the width or more,
//! which the verifier rejects; register operands may, and the ISA defines
//! what happens.

use bpf::insn::*;
use bpf::Insn;

/// Bytes a program writes into its context: r0–r9, then the folded r0.
pub const DUMP_SIZE: usize = 88;
/// Stack offset of the saved context pointer.
const CTX_SLOT: i16 = -8;
/// Stack offset the epilogue uses to free a register.
const SPARE_SLOT: i16 = -16;
/// The stack area random loads and stores use: `[AREA_LO, AREA_HI)`.
const AREA_LO: i16 = -80;
const AREA_HI: i16 = -16;
/// Most body instructions a program gets.
pub const MAX_BODY: usize = 64;
/// Most conditional jumps in a body (bounds the paths the verifier walks).
pub const MAX_JUMPS: usize = 8;

/// A reader of choices from a byte string; reads past the end give 0, so
/// any input (the empty one included) decodes.
struct Choices<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn coin(&mut self) -> bool {
        self.byte() & 1 == 0
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        (self.u32() as u64) | ((self.u32() as u64) << 32)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        if n <= 256 {
            self.byte() as usize % n
        } else {
            self.u16() as usize % n
        }
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }

    /// A 64-bit value biased towards the edges where arithmetic goes wrong.
    fn value(&mut self) -> i64 {
        match self.byte() % 8 {
            0 => (self.byte() as i8) as i64,
            1 => self.pick(&[
                0,
                1,
                -1,
                i64::MIN,
                i64::MAX,
                i32::MIN as i64,
                i32::MAX as i64,
                u32::MAX as i64,
                0x8000,
                0xffff,
                0x80,
                0xff,
            ]),
            2 | 3 => self.u32() as i32 as i64,
            4 => self.u16() as i16 as i64,
            _ => self.u64() as i64,
        }
    }

    /// A 32-bit immediate, biased the same way.
    fn imm(&mut self) -> i32 {
        match self.byte() % 4 {
            0 => (self.byte() as i8) as i32,
            1 => self.pick(&[0, 1, -1, i32::MIN, i32::MAX, 0x8000, 0xffff, 0x80, 0xff]),
            _ => self.u32() as i32,
        }
    }

    fn reg(&mut self) -> u8 {
        self.byte() % 10
    }
}

/// One generated program; `insns(base)` lays it out for a context slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RandomProgram {
    /// Initial values of r0–r9.
    pub init: [i64; 10],
    /// How each register gets its value: true = `lddw`, false = a 32-bit
    /// `mov` (64-bit sign-extending, or `w` zero-extending when `mov32`).
    init_form: [(bool, bool); 10],
    /// Initial stores of the stack area: (DW slot index, from register?, imm).
    stack_init: Vec<(u8, Option<u8>, i32)>,
    /// Body instructions; jump offsets are relative and stay inside.
    pub body: Vec<Insn>,
}

const ALU_OPS: &[u8] = &[
    BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD,
    BPF_XOR, BPF_MOV, BPF_ARSH,
];
const JMP_OPS: &[u8] = &[
    BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT,
    BPF_JSLE,
];
const SIZES: &[(u8, i16)] = &[(BPF_B, 1), (BPF_H, 2), (BPF_W, 4), (BPF_DW, 8)];

impl RandomProgram {
    /// Decode a program from arbitrary bytes (never fails).
    pub fn from_bytes(bytes: &[u8]) -> RandomProgram {
        let mut c = Choices { bytes, pos: 0 };
        let mut init = [0i64; 10];
        let mut init_form = [(false, false); 10];
        for r in 0..10 {
            let form = c.byte();
            let (wide, mov32) = (form & 1 != 0, form & 2 != 0);
            let v = c.value();
            init[r] = if wide {
                v
            } else if mov32 {
                v as i32 as u32 as i64
            } else {
                v as i32 as i64
            };
            init_form[r] = (wide, mov32);
        }
        // Every DW slot of the area is written once, in a random order of
        // register or immediate stores.
        let slots = ((AREA_HI - AREA_LO) / 8) as u8;
        let mut stack_init = Vec::new();
        for s in 0..slots {
            let from_reg = c.coin();
            let reg = c.reg();
            let imm = c.imm();
            stack_init.push((s, from_reg.then_some(reg), imm));
        }
        let n = c.below(MAX_BODY + 1);
        let mut body = Vec::with_capacity(n);
        let mut jumps = 0;
        for i in 0..n {
            body.push(Self::body_insn(&mut c, n - i - 1, &mut jumps));
        }
        RandomProgram {
            init,
            init_form,
            stack_init,
            body,
        }
    }

    /// One body instruction; `after` instructions follow it in the body.
    fn body_insn(c: &mut Choices<'_>, after: usize, jumps: &mut usize) -> Insn {
        let dst = c.reg();
        let src = c.reg();
        match c.byte() % 16 {
            // ALU, 64 or 32 bit, register or immediate.
            0..=6 => {
                let class = if c.coin() { BPF_ALU64 } else { BPF_ALU };
                let op = c.pick(ALU_OPS);
                let width = if class == BPF_ALU64 { 64 } else { 32 };
                let signed = matches!(op, BPF_DIV | BPF_MOD) && c.coin();
                let off = i16::from(signed);
                if op == BPF_NEG {
                    return Insn::new(class | op, dst, 0, 0, 0);
                }
                if c.coin() {
                    return Insn::new(class | op | BPF_X, dst, src, off, 0);
                }
                let mut imm = c.imm();
                match op {
                    BPF_LSH | BPF_RSH | BPF_ARSH => imm = imm.rem_euclid(width),
                    BPF_DIV | BPF_MOD if imm == 0 => imm = 1 + c.byte() as i32,
                    _ => {}
                }
                Insn::new(class | op | BPF_K, dst, 0, off, imm)
            }
            // Sign-extending moves.
            7 => {
                if c.coin() {
                    Insn::new(
                        BPF_ALU64 | BPF_MOV | BPF_X,
                        dst,
                        src,
                        c.pick(&[8, 16, 32]),
                        0,
                    )
                } else {
                    Insn::new(BPF_ALU | BPF_MOV | BPF_X, dst, src, c.pick(&[8, 16]), 0)
                }
            }
            // Byte swaps: to little endian, to big endian, unconditional.
            8 => {
                let imm = c.pick(&[16, 32, 64]);
                let code = c.pick(&[
                    BPF_ALU | BPF_END | BPF_K,
                    BPF_ALU | BPF_END | BPF_X,
                    BPF_ALU64 | BPF_END | BPF_K,
                ]);
                Insn::new(code, dst, 0, 0, imm)
            }
            // Stack stores.
            9 | 10 => {
                let (size, bytes) = c.pick(SIZES);
                let off = Self::stack_off(c, bytes);
                if c.coin() {
                    Insn::stx(size, R10, src, off)
                } else {
                    Insn::st(size, R10, off, c.imm())
                }
            }
            // Stack loads, zero- or sign-extending.
            11 | 12 => {
                let (size, bytes) = c.pick(SIZES);
                let off = Self::stack_off(c, bytes);
                if size != BPF_DW && c.coin() {
                    Insn::new(BPF_LDX | BPF_MEMSX | size, dst, R10, off, 0)
                } else {
                    Insn::ldx(size, dst, R10, off)
                }
            }
            // Forward conditional jumps.
            _ => {
                if *jumps >= MAX_JUMPS {
                    return Insn::alu64_reg(BPF_ADD, dst, src);
                }
                *jumps += 1;
                let class = if c.coin() { BPF_JMP } else { BPF_JMP32 };
                let op = c.pick(JMP_OPS);
                let off = c.below(after + 1) as i16;
                if c.coin() {
                    Insn::new(class | op | BPF_X, dst, src, off, 0)
                } else {
                    Insn::new(class | op | BPF_K, dst, 0, off, c.imm())
                }
            }
        }
    }

    /// An aligned offset of a `bytes`-wide access inside the stack area.
    fn stack_off(c: &mut Choices<'_>, bytes: i16) -> i16 {
        let n = ((AREA_HI - AREA_LO) / bytes) as usize;
        AREA_LO + bytes * c.below(n) as i16
    }

    /// The program with its dump at `ctx + base` (the kernel needs offsets
    /// in the instructions: a modified context pointer may not be used).
    pub fn insns(&self, base: i16) -> Vec<Insn> {
        let mut p = vec![Insn::stx(BPF_DW, R10, 1, CTX_SLOT)];
        for r in 0..10u8 {
            let v = self.init[r as usize];
            match self.init_form[r as usize] {
                (true, _) => p.extend_from_slice(&Insn::lddw(r, v)),
                (false, true) => p.push(Insn::alu32_imm(BPF_MOV, r, v as i32)),
                (false, false) => p.push(Insn::mov64_imm(r, v as i32)),
            }
        }
        for &(slot, reg, imm) in &self.stack_init {
            let off = AREA_LO + 8 * slot as i16;
            match reg {
                Some(r) => p.push(Insn::stx(BPF_DW, R10, r, off)),
                None => p.push(Insn::st(BPF_DW, R10, off, imm)),
            }
        }
        p.extend_from_slice(&self.body);
        // Epilogue: free r1 for the context pointer, dump, fold, exit.
        p.push(Insn::stx(BPF_DW, R10, 1, SPARE_SLOT));
        p.push(Insn::ldx(BPF_DW, 1, R10, CTX_SLOT));
        for r in (0..10u8).filter(|&r| r != 1) {
            p.push(Insn::stx(BPF_DW, 1, r, base + 8 * r as i16));
        }
        p.push(Insn::ldx(BPF_DW, 2, R10, SPARE_SLOT));
        p.push(Insn::stx(BPF_DW, 1, 2, base + 8));
        for r in 1..10i16 {
            p.push(Insn::ldx(BPF_DW, 2, 1, base + 8 * r));
            p.push(Insn::alu64_imm(BPF_MUL, 0, 1_000_003));
            p.push(Insn::alu64_reg(BPF_XOR, 0, 2));
        }
        p.push(Insn::stx(BPF_DW, 1, 0, base + 80));
        p.push(Insn::exit());
        p
    }
}

/// Lay out `programs` as one kernel program: a main function calling each
/// as a BPF-to-BPF subprogram with the context, program `i` dumping at
/// `i * DUMP_SIZE`. Returns the instructions and the context size. One load
/// then verifies many programs, and a subprogram's paths do not multiply
/// with the next one's (after each call the caller's state is the same).
/// At most 255 programs (the kernel's limit on subprograms, with main) and
/// 372 dumps fit the 16-bit offsets; callers batch accordingly.
pub fn batch(programs: &[RandomProgram]) -> (Vec<Insn>, usize) {
    let bodies: Vec<Vec<Insn>> = programs
        .iter()
        .enumerate()
        .map(|(i, p)| p.insns((i * DUMP_SIZE) as i16))
        .collect();
    let main_len = 1 + 2 * programs.len() + 2;
    let mut out = vec![Insn::mov64_reg(6, 1)];
    let mut at = main_len;
    for b in &bodies {
        let call_pc = out.len() + 1;
        out.push(Insn::mov64_reg(1, 6));
        out.push(Insn::new(
            BPF_JMP | BPF_CALL,
            0,
            BPF_PSEUDO_CALL,
            0,
            (at - (call_pc + 1)) as i32,
        ));
        at += b.len();
    }
    out.push(Insn::mov64_imm(0, 0));
    out.push(Insn::exit());
    for b in bodies {
        out.extend(b);
    }
    (out, programs.len() * DUMP_SIZE)
}

/// Most programs `batch` accepts.
pub const MAX_BATCH: usize = 255;

/// The proptest strategy: byte strings long enough to fill a whole body.
#[cfg(feature = "proptest")]
pub fn strategy() -> impl proptest::strategy::Strategy<Value = RandomProgram> {
    use proptest::prelude::*;
    proptest::collection::vec(any::<u8>(), 0..1200).prop_map(|b| RandomProgram::from_bytes(&b))
}

/// Run `p` on the simulator as the kernel would run it standalone: a
/// writable context of `DUMP_SIZE` bytes. Returns the dump (r0–r9, then
/// the folded r0), or the error.
pub fn run_on_sim(
    m: &mut crate::Machine,
    p: &RandomProgram,
) -> Result<[u64; 11], crate::ExecError> {
    use crate::memory::{addr, CONTEXT_REGION};
    let code = crate::Code::new(&p.insns(0));
    m.memory_mut().set_context(&[0u8; DUMP_SIZE], true);
    m.run_with_args(&code, [addr(CONTEXT_REGION, 0), 0, 0, 0, 0])?;
    let data = m
        .memory()
        .region(CONTEXT_REGION)
        .map(|r| r.data.clone())
        .unwrap_or_default();
    Ok(dump_words(&data))
}

/// The 11 words of one dump (missing bytes read as 0).
pub fn dump_words(data: &[u8]) -> [u64; 11] {
    let mut w = [0u64; 11];
    for (i, x) in w.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        for (j, y) in b.iter_mut().enumerate() {
            *y = data.get(i * 8 + j).copied().unwrap_or(0);
        }
        *x = u64::from_le_bytes(b);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> crate::Machine {
        crate::Machine::new(
            Box::new(crate::SimMaps::new(&[], 1).expect("no maps")),
            crate::MachineOptions::default(),
        )
    }

    #[test]
    fn every_input_decodes_to_a_program_that_runs() {
        let mut m = machine();
        let mut seed = 0x1234_5678_9abc_def0u64;
        for len in 0..400 {
            let bytes: Vec<u8> = (0..len * 3)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let p = RandomProgram::from_bytes(&bytes);
            assert!(p.body.len() <= MAX_BODY);
            let dump = run_on_sim(&mut m, &p)
                .unwrap_or_else(|e| panic!("{e}\n{}", bpf::disasm::disasm_program(&p.insns(0))));
            // The fold in the epilogue is what the last word holds.
            let mut r0 = dump[0];
            for &r in &dump[1..10] {
                r0 = r0.wrapping_mul(1_000_003) ^ r;
            }
            assert_eq!(dump[10], r0);
        }
    }

    #[test]
    fn jumps_stay_inside_the_body() {
        for s in 0..200u8 {
            let bytes: Vec<u8> = (0..900).map(|i| (i as u8).wrapping_mul(s) ^ s).collect();
            let p = RandomProgram::from_bytes(&bytes);
            for (i, insn) in p.body.iter().enumerate() {
                if matches!(insn.class(), BPF_JMP | BPF_JMP32) {
                    let target = i as i64 + 1 + insn.off as i64;
                    assert!(target > i as i64 && target <= p.body.len() as i64);
                }
            }
        }
    }

    #[test]
    fn batch_calls_every_program_with_its_own_slot() {
        let ps: Vec<RandomProgram> = (0..5u8)
            .map(|s| RandomProgram::from_bytes(&[s; 300]))
            .collect();
        let (insns, ctx) = batch(&ps);
        assert_eq!(ctx, 5 * DUMP_SIZE);
        let mut m = machine();
        m.memory_mut().set_context(&vec![0u8; ctx], true);
        use crate::memory::{addr, CONTEXT_REGION};
        m.run_with_args(
            &crate::Code::new(&insns),
            [addr(CONTEXT_REGION, 0), 0, 0, 0, 0],
        )
        .expect("batch runs");
        let data = m.memory().region(CONTEXT_REGION).expect("ctx").data.clone();
        for (i, p) in ps.iter().enumerate() {
            let alone = run_on_sim(&mut machine(), p).expect("runs");
            assert_eq!(dump_words(&data[i * DUMP_SIZE..]), alone);
        }
    }
}
