//! The assembler and the disassembler agree: each line of conformance-suite
//! assembly disassembles to the llvm-objdump text of the same instruction
//! (rbpf's round-trip tests, in two syntaxes), and both hold up on any bytes.

use proptest::prelude::*;
use stapc_bpf::asm::assemble;
use stapc_bpf::disasm::{check_insn, disasm_program, format_insn};
use stapc_bpf::Insn;

const PAIRS: &[(&str, &str)] = &[
    ("mov %r0, 1", "r0 = 1"),
    ("mov32 %r1, -1", "w1 = -1"),
    ("mov64 %r1, %r10", "r1 = r10"),
    ("add32 %r0, -3", "w0 += -3"),
    ("sub %r1, %r2", "r1 -= r2"),
    ("mul32 %r3, 7", "w3 *= 7"),
    ("div %r1, 3", "r1 /= 3"),
    ("sdiv32 %r1, %r2", "w1 s/= w2"),
    ("mod %r4, %r5", "r4 %= r5"),
    ("smod %r4, -5", "r4 s%= -5"),
    ("or %r0, 0x10", "r0 |= 16"),
    ("and32 %r0, %r1", "w0 &= w1"),
    ("lsh %r0, 3", "r0 <<= 3"),
    ("rsh32 %r0, %r9", "w0 >>= w9"),
    ("arsh %r0, 1", "r0 s>>= 1"),
    ("xor %r0, %r0", "r0 ^= r0"),
    ("neg %r2", "r2 = -r2"),
    ("neg32 %r2", "w2 = -w2"),
    ("movsx864 %r6, %r5", "r6 = (s8)r5"),
    ("movsx1632 %r4, %r3", "w4 = (s16)w3"),
    ("movsx3264 %r0, %r9", "r0 = (s32)r9"),
    ("be16 %r1", "r1 = be16 r1"),
    ("le32 %r1", "r1 = le32 r1"),
    ("swap64 %r1", "r1 = bswap64 r1"),
    ("bswap16 %r0", "r0 = bswap16 r0"),
    ("ldxb %r0, [%r1+2]", "r0 = *(u8 *)(r1 + 2)"),
    ("ldxh %r0, [%r1]", "r0 = *(u16 *)(r1 + 0)"),
    ("ldxw %r0, [%r1+4]", "r0 = *(u32 *)(r1 + 4)"),
    ("ldxdw %r0, [%r10-8]", "r0 = *(u64 *)(r10 - 8)"),
    ("ldxsb %r0, [%r10-1]", "r0 = *(s8 *)(r10 - 1)"),
    ("ldxsw %r0, [%r10-4]", "r0 = *(s32 *)(r10 - 4)"),
    ("stb [%r10-1], 0x7f", "*(u8 *)(r10 - 1) = 127"),
    ("stw [%r10-4], 0xffffffff", "*(u32 *)(r10 - 4) = -1"),
    ("stdw [%r10-8], 5", "*(u64 *)(r10 - 8) = 5"),
    ("stxh [%r1+2], %r3", "*(u16 *)(r1 + 2) = r3"),
    ("stxdw [%r10-8], %r1", "*(u64 *)(r10 - 8) = r1"),
    ("lock add [%r1+0], %r2", "lock *(u64 *)(r1 + 0) += r2"),
    ("lock or32 [%r10-4], %r1", "lock *(u32 *)(r10 - 4) |= w1"),
    (
        "lock fetch and [%r10-8], %r3",
        "r3 = atomic_fetch_and((u64 *)(r10 - 8), r3)",
    ),
    (
        "lock fetch xor32 [%r10-4], %r3",
        "w3 = atomic_fetch_xor((u32 *)(r10 - 4), w3)",
    ),
    ("lock xchg [%r10-8], %r1", "r1 = xchg_64(r10 - 8, r1)"),
    ("lock xchg32 [%r10-8], %r1", "w1 = xchg32_32(r10 - 8, w1)"),
    (
        "lock cmpxchg [%r10-8], %r1",
        "r0 = cmpxchg_64(r10 - 8, r0, r1)",
    ),
    (
        "lock cmpxchg32 [%r10-8], %r1",
        "w0 = cmpxchg32_32(r10 - 8, w0, w1)",
    ),
    ("ja +1", "goto +1"),
    ("ja32 -1", "gotol -1"),
    ("jeq %r1, 5, +3", "if r1 == 5 goto +3"),
    ("jne32 %r0, %r1, -2", "if w0 != w1 goto -2"),
    ("jset %r1, 0x8, +0", "if r1 & 8 goto +0"),
    ("jsge32 %r1, -1, +1", "if w1 s>= -1 goto +1"),
    ("jlt %r1, %r2, +1", "if r1 < r2 goto +1"),
    ("jsle %r1, %r2, +1", "if r1 s<= r2 goto +1"),
    ("call 1", "call 1"),
    ("call local -2", "call -2"),
    ("call %r2", "callx r2"),
    ("exit", "exit"),
    ("ldabsh 12", "r0 = *(u16 *)skb[12]"),
    ("ldindw %r2, 4", "r0 = *(u32 *)skb[r2]"),
    ("lddw %r1, 0xFFFFFFFFFFFFFFFF", "r1 = -1 ll"),
];

#[test]
fn asm_and_disasm_agree() {
    for (asm, text) in PAIRS {
        let p = assemble(asm).unwrap_or_else(|e| panic!("{asm}: {e}"));
        let (t, n) = format_insn(&p, 0);
        assert_eq!((t.as_str(), n), (*text, p.len()), "{asm}");
        assert_eq!(check_insn(&p, 0), Ok(n), "{asm}");
    }
}

#[test]
fn listing_of_a_program() {
    let p =
        assemble("mov %r0, 0\nlddw %r1, 0x100000000\njeq %r1, 0, done\nadd %r0, 1\ndone:\nexit\n")
            .unwrap();
    assert_eq!(
        disasm_program(&p),
        "   0: r0 = 0\n   1: r1 = 4294967296 ll\n   3: if r1 == 0 goto +1\n   4: r0 += 1\n   5: exit\n"
    );
}

proptest! {
    #[test]
    fn any_bytes_disassemble(words in proptest::collection::vec(any::<u64>(), 0..64)) {
        let insns: Vec<Insn> = words.iter().map(|w| Insn::decode(w.to_le_bytes())).collect();
        let listing = disasm_program(&insns);
        prop_assert!(listing.lines().count() <= insns.len());
        for i in 0..insns.len() {
            let (text, n) = format_insn(&insns, i);
            prop_assert!(n == 1 || n == 2);
            if let Ok(m) = check_insn(&insns, i) {
                prop_assert_eq!(m, n);
                prop_assert!(!text.starts_with("<invalid"));
            }
        }
    }

    #[test]
    fn any_text_assembles_or_errs(text in "[a-z0-9%\\[\\]+, :#-]{0,40}(\n[a-z0-9%\\[\\]+, :#-]{0,40}){0,4}") {
        if let Err(e) = assemble(&text) {
            prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1));
        }
    }

    #[test]
    fn any_unicode_never_panics(text in "(\\PC|\n){0,120}") {
        let _ = assemble(&text);
        let _ = stapc_bpf::conformance::parse_data(&text).map(|f| f.program());
    }
}
