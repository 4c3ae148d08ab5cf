//! BTF func and line info for `BPF_PROG_LOAD`, built from an `Object`'s line
//! table, so that the kernel's own verifier log names script lines: before
//! each instruction it prints the `line_off` string of the line record
//! covering it (the script's source line, or `file:line` without the
//! source) and, since 6.5, ` @ file:line`.
//!
//! The BTF is minimal: `int`, `void *`, one `int (void *ctx)` prototype and
//! one static FUNC per subprogram (the kernel wants a func record for each,
//! and a line record at each subprogram's first instruction).

use stapc_bpf::insn::{BPF_CALL, BPF_JMP, BPF_PSEUDO_CALL};
use stapc_bpf::{Insn, LineEntry};

const BTF_MAGIC: u16 = 0xeb9f;
const BTF_HEADER_LEN: u32 = 24;
const BTF_KIND_INT: u32 = 1;
const BTF_KIND_PTR: u32 = 2;
const BTF_KIND_FUNC: u32 = 12;
const BTF_KIND_FUNC_PROTO: u32 = 13;
const BTF_INT_SIGNED: u32 = 1;
/// Type ids in the blob: 1 `int`, 2 `void *`, 3 the prototype, 4.. funcs.
const FIRST_FUNC_ID: u32 = 4;
/// `bpf_line_info.line_col` keeps the column in its low 10 bits.
const COL_BITS: u32 = 10;

/// The line table of one program and where its lines come from.
#[derive(Clone, Copy, Debug)]
pub struct LineTable<'a> {
    /// The script's file name, as the object records it.
    pub file: &'a str,
    /// The script's text, when available, to quote lines in the log.
    pub source: Option<&'a str>,
    pub lines: &'a [LineEntry],
}

/// What `BPF_BTF_LOAD` and `BPF_PROG_LOAD` need for one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgBtf {
    pub blob: Vec<u8>,
    /// `struct bpf_func_info` records (8 bytes each).
    pub func_info: Vec<u8>,
    /// `struct bpf_line_info` records (16 bytes each).
    pub line_info: Vec<u8>,
}

impl ProgBtf {
    pub const FUNC_INFO_REC_SIZE: u32 = 8;
    pub const LINE_INFO_REC_SIZE: u32 = 16;

    pub fn func_count(&self) -> u32 {
        (self.func_info.len() / 8) as u32
    }

    pub fn line_count(&self) -> u32 {
        (self.line_info.len() / 16) as u32
    }
}

/// Instruction indexes where subprograms start (0 first), from the
/// BPF-to-BPF calls' targets.
pub fn subprog_starts(insns: &[Insn]) -> Vec<u32> {
    let mut starts = vec![0u32];
    for (i, insn) in insns.iter().enumerate() {
        if insn.code == BPF_JMP | BPF_CALL && insn.src == BPF_PSEUDO_CALL {
            let target = i as i64 + 1 + insn.imm as i64;
            if target > 0 && (target as usize) < insns.len() {
                starts.push(target as u32);
            }
        }
    }
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// A BTF identifier from a program name (`[A-Za-z_][A-Za-z0-9_]*`).
fn identifier(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

struct Strings {
    bytes: Vec<u8>,
}

impl Strings {
    fn add(&mut self, s: &str) -> u32 {
        let off = self.bytes.len() as u32;
        // BTF strings are NUL-terminated: a NUL inside would cut them short.
        self.bytes
            .extend(s.bytes().map(|b| if b == 0 { b' ' } else { b }));
        self.bytes.push(0);
        off
    }
}

fn push_u32(v: &mut Vec<u8>, x: u32) {
    v.extend(x.to_le_bytes());
}

fn info(kind: u32, vlen: u32) -> u32 {
    (kind << 24) | (vlen & 0xffff)
}

/// Build the BTF and func/line records of program `name`; `None` when the
/// line table is empty (nothing to say).
pub fn build(name: &str, insns: &[Insn], table: &LineTable<'_>) -> Option<ProgBtf> {
    if table.lines.is_empty() || insns.is_empty() {
        return None;
    }
    let mut strings = Strings { bytes: vec![0] };
    let mut types = Vec::new();
    // [1] int
    push_u32(&mut types, strings.add("int"));
    push_u32(&mut types, info(BTF_KIND_INT, 0));
    push_u32(&mut types, 4);
    push_u32(&mut types, (BTF_INT_SIGNED << 24) | 32);
    // [2] void *
    push_u32(&mut types, 0);
    push_u32(&mut types, info(BTF_KIND_PTR, 0));
    push_u32(&mut types, 0);
    // [3] int (void *ctx)
    push_u32(&mut types, 0);
    push_u32(&mut types, info(BTF_KIND_FUNC_PROTO, 1));
    push_u32(&mut types, 1);
    push_u32(&mut types, strings.add("ctx"));
    push_u32(&mut types, 2);
    // [4..] one static FUNC per subprogram.
    let starts = subprog_starts(insns);
    let base = identifier(name);
    let mut func_info = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let fname = if n == 0 {
            base.clone()
        } else {
            format!("{base}__sub{n}")
        };
        push_u32(&mut types, strings.add(&fname));
        push_u32(&mut types, info(BTF_KIND_FUNC, 0));
        push_u32(&mut types, 3);
        push_u32(&mut func_info, start);
        push_u32(&mut func_info, FIRST_FUNC_ID + n as u32);
    }

    // Line records: strictly increasing offsets, never on the second half of
    // an lddw (its code is 0), one at every subprogram start.
    let file_off = strings.add(table.file);
    let source_lines: Vec<&str> = table
        .source
        .map(|s| s.lines().collect())
        .unwrap_or_default();
    let mut line_strings: Vec<(u32, u32)> = Vec::new(); // (line, string offset)
    let mut records: Vec<(u32, LineEntry)> = Vec::new();
    let valid = |i: u32| (i as usize) < insns.len() && insns[i as usize].code != 0;
    let entry_at = |i: u32| -> LineEntry {
        let k = table.lines.partition_point(|e| e.insn <= i);
        table.lines[k.saturating_sub(1)]
    };
    let mut wanted: Vec<u32> = table
        .lines
        .iter()
        .map(|e| e.insn)
        .chain(starts.iter().copied())
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    for i in wanted.into_iter().filter(|&i| valid(i)) {
        records.push((i, entry_at(i)));
    }
    let mut line_info = Vec::new();
    for (insn, e) in records {
        let line_off = match line_strings.iter().find(|(l, _)| *l == e.line) {
            Some(&(_, off)) => off,
            None => {
                // Kernels since 6.5 append ` @ file:line` themselves; older
                // ones print only this string, so without the source text it
                // names the line.
                let text = source_lines
                    .get((e.line as usize).wrapping_sub(1))
                    .map(|t| t.trim())
                    .filter(|t| !t.is_empty());
                let off = match text {
                    Some(t) => strings.add(t),
                    None => strings.add(&format!("{}:{}", table.file, e.line)),
                };
                line_strings.push((e.line, off));
                off
            }
        };
        push_u32(&mut line_info, insn);
        push_u32(&mut line_info, file_off);
        push_u32(&mut line_info, line_off);
        push_u32(
            &mut line_info,
            (e.line << COL_BITS) | e.col.min((1 << COL_BITS) - 1),
        );
    }

    let mut blob = Vec::new();
    blob.extend(BTF_MAGIC.to_le_bytes());
    blob.push(1); // version
    blob.push(0); // flags
    push_u32(&mut blob, BTF_HEADER_LEN);
    push_u32(&mut blob, 0); // type_off
    push_u32(&mut blob, types.len() as u32);
    push_u32(&mut blob, types.len() as u32); // str_off
    push_u32(&mut blob, strings.bytes.len() as u32);
    blob.extend(types);
    blob.extend(strings.bytes);
    Some(ProgBtf {
        blob,
        func_info,
        line_info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], o: usize) -> u32 {
        u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
    }

    fn string_at(blob: &[u8], off: u32) -> String {
        let str_start = 24 + u32_at(blob, 16) as usize + off as usize;
        let end = blob[str_start..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8(blob[str_start..str_start + end].to_vec()).unwrap()
    }

    #[test]
    fn header_types_and_records() {
        let mut insns = vec![Insn::mov64_imm(0, 0)];
        insns.extend(Insn::lddw(1, 5));
        insns.push(Insn::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 1)); // calls insn 5
        insns.push(Insn::exit());
        insns.push(Insn::mov64_imm(0, 1)); // subprogram
        insns.push(Insn::exit());
        let lines = [
            LineEntry {
                insn: 0,
                line: 2,
                col: 3,
            },
            LineEntry {
                insn: 2,
                line: 3,
                col: 1,
            }, // second half of lddw: dropped
            LineEntry {
                insn: 3,
                line: 3,
                col: 9,
            },
        ];
        let table = LineTable {
            file: "t.stp",
            source: Some("a\n  b = 1\nc()\n"),
            lines: &lines,
        };
        let btf = build("timer-1", &insns, &table).unwrap();
        let b = &btf.blob;
        assert_eq!(&b[..4], &[0x9f, 0xeb, 1, 0]);
        assert_eq!(u32_at(b, 4), 24);
        // 4 types of 16+12+20 bytes, then two 12-byte funcs.
        assert_eq!(u32_at(b, 12), 16 + 12 + 20 + 12 * 2);
        assert_eq!(subprog_starts(&insns), vec![0, 5]);
        assert_eq!(btf.func_count(), 2);
        assert_eq!(u32_at(&btf.func_info, 8), 5);
        assert_eq!(u32_at(&btf.func_info, 12), 5);
        let first_func = 24 + 16 + 12 + 20;
        assert_eq!(string_at(b, u32_at(b, first_func)), "timer_1");
        assert_eq!(string_at(b, u32_at(b, first_func + 12)), "timer_1__sub1");
        // Records at 0, 3, and 5 (the subprogram, with the line in effect).
        let recs: Vec<(u32, String, u32)> = btf
            .line_info
            .chunks(16)
            .map(|r| (u32_at(r, 0), string_at(b, u32_at(r, 8)), u32_at(r, 12)))
            .collect();
        assert_eq!(
            recs,
            vec![
                (0, "b = 1".to_string(), (2 << 10) | 3),
                (3, "c()".to_string(), (3 << 10) | 9),
                (5, "c()".to_string(), (3 << 10) | 9),
            ]
        );
        assert_eq!(string_at(b, u32_at(&btf.line_info, 4)), "t.stp");
    }

    #[test]
    fn no_lines_no_btf() {
        let table = LineTable {
            file: "t.stp",
            source: None,
            lines: &[],
        };
        assert_eq!(build("p", &[Insn::exit()], &table), None);
    }

    #[test]
    fn a_first_line_after_zero_still_covers_the_start() {
        let insns = [Insn::mov64_imm(0, 0), Insn::mov64_imm(0, 0), Insn::exit()];
        let lines = [LineEntry {
            insn: 1,
            line: 7,
            col: 0,
        }];
        let table = LineTable {
            file: "<input>",
            source: None,
            lines: &lines,
        };
        let btf = build("p", &insns, &table).unwrap();
        assert_eq!(btf.line_count(), 2);
        assert_eq!(u32_at(&btf.line_info, 0), 0);
        assert_eq!(string_at(&btf.blob, u32_at(&btf.line_info, 8)), "<input>:7");
    }
}
