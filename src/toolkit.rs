//! `stapc bpf …`: small tools over the BPF layer that need no script.
//!
//! - `stapc bpf asm FILE [-o OUT] [--raw]` assembles the bpf_conformance
//!   syntax (a plain assembly file, or the `-- asm` section of a `.data`
//!   file) into an ELF object holding one program (`--raw`: the bare 8-byte
//!   instructions). OUT defaults to FILE with the extension `.bo` (`.bin`).
//! - `stapc bpf disasm FILE` prints an object's programs, or a raw
//!   program's instructions, as `   N: text` lines.
//! - `stapc bpf run FILE [--mem HEX]` runs a `.data` file of the
//!   conformance suite, a raw program or an object's first program on the
//!   simulator and prints r0 as `0x…`. `--mem` gives the memory r1 points at
//!   (r2 = its length). For a `.data` file with a `-- result` that differs,
//!   the run fails.
//!
//! Errors name the file (and the line, for text) and exit with status 1.

use bpf::conformance::{parse_data, DataFile};
use bpf::object::{control, map_names};
use bpf::{Insn, MapDef, MapKind, Object, ProbeKind, Program};
use clap::{Parser, Subcommand};
use sim::{Code, Machine, MachineOptions, SimMaps};
use stapc_bpf as bpf;
use stapc_sim as sim;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "stapc bpf",
    no_binary_name = true,
    about = "Assemble, disassemble and run BPF programs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Assemble the bpf_conformance syntax into an object (or raw instructions).
    Asm {
        file: PathBuf,
        /// Output file (default: FILE with extension .bo, or .bin with --raw).
        #[arg(short = 'o', value_name = "OUT")]
        out: Option<PathBuf>,
        /// Write the bare 8-byte instructions instead of an ELF object.
        #[arg(long)]
        raw: bool,
    },
    /// Disassemble an object or a raw program.
    Disasm { file: PathBuf },
    /// Predict the kernel verifier's verdict on every program of an object, or
    /// on an assembly / .data / raw program; exit 0 when all are accepted.
    Verify {
        file: PathBuf,
        /// Program type of an assembly, .data or raw program.
        #[arg(long, value_name = "T", default_value = "socket_filter")]
        prog_type: String,
        /// The kernel whose rules apply (X.Y; default: the running kernel).
        #[arg(long, value_name = "X.Y")]
        target_kernel: Option<String>,
        /// Loaded with CAP_BPF/CAP_SYS_ADMIN (larger limits, more freedom).
        #[arg(long)]
        privileged: bool,
    },
    /// Run a .data file, a raw program or an object's first program; print r0.
    Run {
        file: PathBuf,
        /// Memory for r1 (r2 = its length), as hex bytes: "0a 0b" or "0a0b".
        #[arg(long, value_name = "HEX")]
        mem: Option<String>,
    },
}

/// A failure to report: `stapc: {message}`, exit status 1.
struct Failure(String);

/// The `stapc bpf` subcommand; `args` are the words after `bpf`. Returns
/// the exit status.
pub fn bpf_command(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let text = e.render().to_string();
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = out.write_all(text.as_bytes());
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        1
                    } else {
                        0
                    }
                }
                _ => {
                    let _ = err.write_all(text.as_bytes());
                    1
                }
            };
        }
    };
    let result = match cli.command {
        Command::Asm { file, out: o, raw } => asm(&file, o, raw),
        Command::Disasm { file } => disasm(&file, out),
        Command::Run { file, mem } => run(&file, mem.as_deref(), out),
        Command::Verify {
            file,
            prog_type,
            target_kernel,
            privileged,
        } => verify(&file, &prog_type, target_kernel.as_deref(), privileged, out),
    };
    match result {
        Ok(()) => 0,
        Err(Failure(m)) => {
            let _ = writeln!(err, "stapc: {m}");
            1
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

fn text_of(path: &Path, bytes: Vec<u8>) -> Result<String, Failure> {
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Failure(format!("{}:{line}: not valid UTF-8 text", path.display()))
    })
}

/// A `.data` file: by extension, or text with a `-- asm`/`-- raw` line.
fn is_data_file(path: &Path, bytes: &[u8]) -> bool {
    if path.extension().is_some_and(|e| e == "data") {
        return true;
    }
    std::str::from_utf8(bytes).is_ok_and(|t| {
        t.lines()
            .any(|l| matches!(l.trim(), "-- asm" | "-- raw" | "-- result"))
    })
}

/// 1-based file line of the first line after `-- asm` (assembler errors
/// count from there).
fn asm_section_start(text: &str) -> usize {
    text.lines()
        .position(|l| l.trim() == "-- asm")
        .map_or(0, |i| i + 1)
}

fn data_file(path: &Path, text: &str) -> Result<(DataFile, Vec<Insn>), Failure> {
    let f = parse_data(text)
        .map_err(|e| Failure(format!("{}:{}: {}", path.display(), e.line, e.message)))?;
    let insns = f.program().map_err(|e| {
        let line = if f.asm.is_some() {
            asm_section_start(text) + e.line
        } else {
            e.line
        };
        Failure(format!("{}:{line}: {}", path.display(), e.message))
    })?;
    Ok((f, insns))
}

/// The instructions of an assembly or `.data` file.
fn assemble_file(path: &Path) -> Result<Vec<Insn>, Failure> {
    let bytes = read(path)?;
    let data = is_data_file(path, &bytes);
    let text = text_of(path, bytes)?;
    if data {
        return Ok(data_file(path, &text)?.1);
    }
    bpf::asm::assemble(&text)
        .map_err(|e| Failure(format!("{}:{}: {}", path.display(), e.line, e.message)))
}

/// A one-program object: a `begin`-kind (userspace, `syscall` type)
/// program named after the file, with only the control and output maps
/// every object carries (the program itself uses neither).
fn one_program_object(path: &Path, insns: Vec<Insn>) -> Object {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "prog_");
    }
    Object {
        source_name: path.display().to_string(),
        programs: vec![Program {
            fields: Vec::new(),
            name,
            kind: ProbeKind::Begin { priority: 0 },
            point: "begin".into(),
            insns,
            lines: vec![],
        }],
        maps: vec![
            MapDef {
                name: map_names::CONTROL.into(),
                kind: MapKind::Array,
                key_size: 4,
                value_size: control::VALUE_SIZE,
                max_entries: 1,
                init: vec![],
            },
            MapDef {
                name: map_names::OUTPUT.into(),
                kind: MapKind::RingBuf,
                key_size: 0,
                value_size: 0,
                max_entries: 4096,
                init: vec![],
            },
        ],
        formats: vec![],
        errors: vec![],
        max_string_len: 0,
        control_map: 0,
        output_map: 1,
        license: "GPL".into(),
        ..Default::default()
    }
}

fn asm(path: &Path, out: Option<PathBuf>, raw: bool) -> Result<(), Failure> {
    let insns = assemble_file(path)?;
    let bytes = if raw {
        bpf::insn::encode_all(&insns)
    } else {
        bpf::elf::write(&one_program_object(path, insns))
            .map_err(|e| Failure(format!("{}: {e}", path.display())))?
    };
    let out = out.unwrap_or_else(|| path.with_extension(if raw { "bin" } else { "bo" }));
    std::fs::write(&out, bytes).map_err(|e| Failure(format!("{}: {e}", out.display())))
}

fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

fn read_object(path: &Path, bytes: &[u8]) -> Result<Object, Failure> {
    bpf::elf::read(bytes).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

fn raw_program(path: &Path, bytes: &[u8]) -> Result<Vec<Insn>, Failure> {
    bpf::insn::decode_all(bytes).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

fn disasm(path: &Path, out: &mut dyn Write) -> Result<(), Failure> {
    let bytes = read(path)?;
    let text = if is_elf(&bytes) {
        let obj = read_object(path, &bytes)?;
        let mut s = String::new();
        for (i, p) in obj.programs.iter().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(&format!("{} ({}):\n", p.name, p.section_name()));
            s.push_str(&bpf::disasm::disasm_program_with_maps(&p.insns, |m| {
                obj.maps.get(m as usize).map(|d| d.name.as_str())
            }));
        }
        s
    } else if is_data_file(path, &bytes) {
        let text = text_of(path, bytes)?;
        bpf::disasm::disasm_program(&data_file(path, &text)?.1)
    } else {
        bpf::disasm::disasm_program(&raw_program(path, &bytes)?)
    };
    out.write_all(text.as_bytes())
        .map_err(|e| Failure(format!("output: {e}")))
}

/// Hex bytes, with or without spaces between them.
fn parse_hex(s: &str) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    for word in s.split_whitespace() {
        let word = word.strip_prefix("0x").unwrap_or(word);
        if word.len() % 2 != 0 {
            return Err(Failure(format!(
                "--mem: `{word}` has an odd number of hex digits"
            )));
        }
        for i in (0..word.len()).step_by(2) {
            let pair = word.get(i..i + 2).unwrap_or("");
            out.push(
                u8::from_str_radix(pair, 16)
                    .map_err(|_| Failure(format!("--mem: `{pair}` is not a hex byte")))?,
            );
        }
    }
    Ok(out)
}

fn run(path: &Path, mem: Option<&str>, out: &mut dyn Write) -> Result<(), Failure> {
    let bytes = read(path)?;
    let mem = mem.map(parse_hex).transpose()?;
    let (insns, file_mem, expected, conformance) = if is_elf(&bytes) {
        let obj = read_object(path, &bytes)?;
        let Some(p) = obj.programs.into_iter().next() else {
            return Err(Failure(format!(
                "{}: the object has no program",
                path.display()
            )));
        };
        if p.insns.iter().any(|i| i.is_lddw() && i.src != 0) {
            return Err(Failure(format!(
                "{}: program {} uses maps; run the whole script with --sim instead",
                path.display(),
                p.name
            )));
        }
        (p.insns, None, None, false)
    } else if is_data_file(path, &bytes) {
        let text = text_of(path, bytes)?;
        let (f, insns) = data_file(path, &text)?;
        let m = (!f.mem.is_empty()).then_some(f.mem);
        (insns, m, f.result, true)
    } else {
        (raw_program(path, &bytes)?, None, None, false)
    };
    let store = SimMaps::new(&[], 1).map_err(|e| Failure(format!("simulator: {e}")))?;
    let mut machine = Machine::new(
        Box::new(store),
        MachineOptions {
            conformance,
            ..MachineOptions::default()
        },
    );
    let input = mem.or(file_mem);
    let outcome = machine
        .run_with_memory(&Code::new(&insns), input.as_deref())
        .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    writeln!(out, "{:#x}", outcome.r0).map_err(|e| Failure(format!("output: {e}")))?;
    match expected {
        Some(want) if want != outcome.r0 => Err(Failure(format!(
            "{}: r0 is {:#x}, the file expects {want:#x}",
            path.display(),
            outcome.r0
        ))),
        _ => Ok(()),
    }
}

/// `stapc bpf verify`: one verdict line per program (and the reason, state
/// and explanation for a rejection); fails when any program is rejected.
fn verify(
    path: &Path,
    prog_type: &str,
    kernel: Option<&str>,
    privileged: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    use stapc_sim::verifier::{self, corpus, VerifyOptions};
    let mut target = match kernel {
        Some(k) => stapc_bpf::Target::new(
            stapc_bpf::KernelVersion::parse(k)
                .ok_or_else(|| Failure(format!("`{k}` is not a kernel version like 5.15")))?,
        ),
        None => stapc_bpf::Target::default(),
    };
    target.privileged = privileged;
    let bytes = read(path)?;
    let results = if is_elf(&bytes) {
        let obj = read_object(path, &bytes)?;
        verifier::verify_object(&obj, &target)
    } else {
        let pt = corpus::prog_type_from_name(prog_type).ok_or_else(|| {
            Failure(format!(
                "unknown program type `{prog_type}` (socket_filter, kprobe, tracepoint, raw_tracepoint, perf_event, syscall)"
            ))
        })?;
        let (insns, maps) = if path.extension().is_some_and(|e| e == "asm") {
            let text = text_of(path, bytes)?;
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("prog");
            let p = corpus::parse(name, &text)
                .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
            (p.insns, p.maps)
        } else if is_data_file(path, &bytes) {
            let text = text_of(path, bytes)?;
            (data_file(path, &text)?.1, Vec::new())
        } else {
            (raw_program(path, &bytes)?, Vec::new())
        };
        let opts = VerifyOptions {
            target,
            prog_type: pt,
            userspace: false,
        };
        vec![("prog".to_string(), verifier::verify(&insns, &maps, &opts))]
    };
    let mut rejected = 0;
    for (name, res) in &results {
        let line = match res {
            Ok(st) => format!(
                "{name}: accepted ({} instructions processed)",
                st.processed_insns
            ),
            Err(e) => {
                rejected += 1;
                format!(
                    "{name}: rejected at instruction {}: {}\n  state: {}\n  {}",
                    e.insn, e.message, e.state, e.explanation
                )
            }
        };
        writeln!(out, "{line}").map_err(|e| Failure(e.to_string()))?;
    }
    if rejected > 0 {
        return Err(Failure(format!(
            "{rejected} of {} programs rejected",
            results.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_memory() {
        assert_eq!(parse_hex("0a 0b0c 0xff").ok(), Some(vec![10, 11, 12, 255]));
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("é1").is_err());
    }
}
