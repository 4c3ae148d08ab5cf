//! Reader for the `.data` files of the `bpf_conformance` suite
//! (shared/bpf_conformance): sections `-- asm`, `-- raw`, `-- mem`,
//! `-- result`, `-- error`, the informative `-- c` and `-- no register
//! offset`, and `#` comments; plus `DataFile::program` to get the
//! instructions from the asm (assembled) or the raw words.

use crate::asm::{assemble, AsmError};
use crate::insn::Insn;
use std::fmt;
use std::path::{Path, PathBuf};

/// Negative tests (in `negative/`) whose program assembles and decodes
/// strictly: their error only shows when the program is verified or run
/// (`error.data` reads the uninitialised r0; the other expects a wrong
/// result). Every other negative file is rejected by `parse_data`,
/// `DataFile::program` or `disasm::check_program`.
pub const RUNTIME_NEGATIVES: &[&str] = &["error.data", "incorrect_return_value_high_bits.data"];

/// The suite's directory: `shared/bpf_conformance` next to the repository
/// clone (the CI layout), else `/work/shared/bpf_conformance`.
pub fn default_data_dir() -> Option<PathBuf> {
    [
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/bpf_conformance"
        )),
        PathBuf::from("/work/shared/bpf_conformance"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

/// The `.data` files of `dir/sub` (`tests` or `negative`) as (file name,
/// text), sorted by name so reports are stable.
pub fn read_suite(dir: &Path, sub: &str) -> std::io::Result<Vec<(String, String)>> {
    let mut v = Vec::new();
    for entry in std::fs::read_dir(dir.join(sub))? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "data") {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            v.push((name, std::fs::read_to_string(&path)?));
        }
    }
    v.sort();
    Ok(v)
}

/// One test file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataFile {
    /// The `-- asm` text, comments included (the assembler strips them).
    pub asm: Option<String>,
    /// The `-- raw` program as 64-bit little-endian instruction words (a
    /// line holds either one `0x…` word or eight hex bytes).
    pub raw: Option<Vec<u64>>,
    /// The `-- mem` bytes: r1 points at a copy, r2 holds the length.
    pub mem: Vec<u8>,
    /// The expected r0 at exit.
    pub result: Option<u64>,
    /// The expected error text (negative tests); may be empty.
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError {
    /// 1-based line in the `.data` file.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for DataError {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Preamble,
    Asm,
    Raw,
    Mem,
    Result,
    Error,
    Ignored,
}

fn hex_byte(s: &str) -> Option<u8> {
    if s.len() > 2 {
        return None;
    }
    u8::from_str_radix(s, 16).ok()
}

fn parse_result(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(d) = s.strip_prefix('-') {
        d.parse::<u64>().ok().map(|v| v.wrapping_neg())
    } else {
        s.parse().ok()
    }
}

/// Parse a `.data` file. Unknown `-- directives` and malformed raw, mem or
/// result lines are errors; sections may come in any order.
pub fn parse_data(text: &str) -> Result<DataFile, DataError> {
    let mut f = DataFile::default();
    let mut sec = Section::Preamble;
    let mut asm = String::new();
    let mut error_lines: Vec<&str> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let err = |message: String| DataError {
            line: n + 1,
            message,
        };
        let t = line.trim();
        if let Some(name) = t.strip_prefix("--") {
            sec = match name.trim() {
                "asm" => Section::Asm,
                "raw" => Section::Raw,
                "mem" => Section::Mem,
                "result" => Section::Result,
                "error" => Section::Error,
                "c" | "no register offset" => Section::Ignored,
                other => return Err(err(format!("Unknown directive: -- {other}"))),
            };
            match sec {
                Section::Asm => f.asm = Some(String::new()),
                Section::Raw => f.raw = Some(Vec::new()),
                Section::Error => f.error = Some(String::new()),
                _ => {}
            }
            continue;
        }
        if sec == Section::Ignored {
            continue;
        }
        if sec == Section::Asm {
            // Comments are the assembler's business; keep line numbers.
            asm.push_str(line);
            asm.push('\n');
            continue;
        }
        let t = t.split('#').next().unwrap_or("").trim();
        if t.is_empty() {
            continue;
        }
        match sec {
            Section::Preamble => {
                return Err(err(format!("text before the first section: {t}")));
            }
            Section::Raw => {
                let words: Vec<&str> = t.split_whitespace().collect();
                let word = if let [w] = words[..] {
                    let h = w
                        .strip_prefix("0x")
                        .or_else(|| w.strip_prefix("0X"))
                        .ok_or_else(|| err(format!("bad raw instruction: {t}")))?;
                    u64::from_str_radix(h, 16).map_err(|_| err(format!("bad raw word: {w}")))?
                } else if words.len() == 8 {
                    let mut b = [0u8; 8];
                    for (d, w) in b.iter_mut().zip(&words) {
                        *d = hex_byte(w).ok_or_else(|| err(format!("bad raw byte: {w}")))?;
                    }
                    u64::from_le_bytes(b)
                } else {
                    return Err(err(format!("bad raw instruction: {t}")));
                };
                if let Some(r) = f.raw.as_mut() {
                    r.push(word);
                }
            }
            Section::Mem => {
                for w in t.split_whitespace() {
                    f.mem
                        .push(hex_byte(w).ok_or_else(|| err(format!("bad mem byte: {w}")))?);
                }
            }
            Section::Result => {
                if f.result.is_some() {
                    return Err(err("more than one result".into()));
                }
                f.result = Some(parse_result(t).ok_or_else(|| err(format!("bad result: {t}")))?);
            }
            Section::Error => error_lines.push(t),
            Section::Asm | Section::Ignored => {}
        }
    }
    if f.asm.is_some() {
        f.asm = Some(asm);
    }
    if f.error.is_some() {
        f.error = Some(error_lines.join("\n"));
    }
    Ok(f)
}

impl DataFile {
    /// The program: the assembled `-- asm`, else the `-- raw` words.
    /// A file with neither (or an empty one) is an error, as the suite wants.
    pub fn program(&self) -> Result<Vec<Insn>, AsmError> {
        if let Some(a) = &self.asm {
            return assemble(a);
        }
        match &self.raw {
            Some(r) if !r.is_empty() => Ok(raw_insns(r)),
            _ => Err(AsmError {
                line: 1,
                message: "No program (no asm and no raw section)".into(),
            }),
        }
    }
}

/// Instruction slots from 64-bit little-endian words.
pub fn raw_insns(words: &[u64]) -> Vec<Insn> {
    words
        .iter()
        .map(|w| Insn::decode(w.to_le_bytes()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_section() {
        let f = parse_data(
            "# header\n-- asm\nmov %r0, 1 # one\nexit\n-- raw\n0x00000001000000b7\n\
             95 00 00 00 00 00 00 00\n-- mem\n11 22\n33\n-- result\n0x1\n-- c\n#include <x>\n\
             -- error\nInvalid thing\n",
        )
        .unwrap();
        assert_eq!(f.asm.as_deref(), Some("mov %r0, 1 # one\nexit\n"));
        assert_eq!(f.raw, Some(vec![0x0000_0001_0000_00b7, 0x95]));
        assert_eq!(f.mem, vec![0x11, 0x22, 0x33]);
        assert_eq!(f.result, Some(1));
        assert_eq!(f.error.as_deref(), Some("Invalid thing"));
        assert_eq!(f.program().unwrap(), raw_insns(f.raw.as_ref().unwrap()));
    }

    #[test]
    fn rejects_unknown_directives_and_bad_lines() {
        assert_eq!(
            parse_data("-- asm\n-- Unknown directive\n")
                .unwrap_err()
                .line,
            2
        );
        assert!(parse_data("-- raw\n0xzz\n").is_err());
        assert!(parse_data("-- mem\n123\n").is_err());
        assert!(parse_data("-- result\nx\n").is_err());
        assert!(parse_data("").unwrap().program().is_err());
        assert!(parse_data("-- result\n0\n").unwrap().program().is_err());
    }
}
