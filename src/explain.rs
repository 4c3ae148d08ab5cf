//! The verifier, at the script's level: the pre-check every compiled program
//! goes through (the mini-verifier, before any kernel sees it),
//! `--explain-verifier SCRIPT` (the mini-verifier's and, when the process may
//! load BPF, the kernel's verdict on every program, each rejection shown at
//! the script line with the instructions around it), and
//! `--explain-verifier --kernel-log LOG [OBJECT]` (a verifier log written by
//! any tool, explained by instruction and, given the object, by script line).

use stapc_bpf::{disasm, Object, Program, Target};
use stapc_frontend::{Diagnostic, FileId, SourceMap, Span};
use stapc_sim::verifier::{self, VerifierErrorKind};

/// One rejection, by either verifier.
struct Rejection<'a> {
    who: &'static str,
    /// A rejection that happened (a kernel log), not a prediction.
    happened: bool,
    prog: Option<&'a Program>,
    insn: Option<usize>,
    message: String,
    state: Option<String>,
    explanation: String,
}

/// The script position of instruction `insn`, through the line table.
fn span_of(prog: &Program, insn: usize, sm: &SourceMap, file: FileId) -> Option<Span> {
    let entry = prog.line_of(insn as u32)?;
    let f = sm.file(file);
    let start = f.offset(entry.line, entry.col)?;
    // Underline to the end of the first token.
    let rest = &f.text[start as usize..];
    let len = rest
        .find(|c: char| c.is_whitespace() || c == ';' || c == '}')
        .unwrap_or(rest.len())
        .max(1);
    Some(Span::new(file, start, start + len as u32))
}

/// The instructions around `insn`, the failing one marked with `>`.
fn listing(obj: &Object, prog: &Program, insn: usize) -> String {
    let names = |i: u32| obj.maps.get(i as usize).map(|m| m.name.as_str());
    let text = disasm::disasm_program_with_maps(&prog.insns, names);
    let lo = insn.saturating_sub(5);
    let mut out = String::from("instructions around it:\n");
    for line in text.lines() {
        let Some(idx) = line
            .split(':')
            .next()
            .and_then(|n| n.trim().parse::<usize>().ok())
        else {
            continue;
        };
        if idx >= lo && idx <= insn + 2 {
            out.push_str(if idx == insn { "  > " } else { "    " });
            out.push_str(line.trim_start());
            out.push('\n');
        }
    }
    out.trim_end().to_string()
}

/// What a kernel message means and how to change the script, for messages
/// found in logs (the mini-verifier's own errors carry their explanation).
fn explain_message(message: &str) -> String {
    const TABLE: &[(&str, &str)] = &[
        ("invalid mem access 'map_value_or_null'", "a map lookup's result was used without checking it for NULL; the element may not exist"),
        ("!read_ok", "a register is read before anything was written to it on some path"),
        ("invalid read from stack", "stack memory is read before it was written (every byte a helper reads must be initialised)"),
        ("invalid indirect read from stack", "a helper was given stack memory that is not fully initialised"),
        ("unreachable insn", "the program contains instructions no path reaches; the kernel refuses dead code"),
        ("back-edge", "the program loops, and this kernel verifies no loops (before 5.3): the loop must be unrolled"),
        ("infinite loop", "the verifier could not prove the loop ends"),
        ("jump out of range", "a jump leaves the program"),
        ("invalid access to map value", "a map value is read or written outside its size: an index or offset is not bounded"),
        ("unbounded min value", "pointer arithmetic with a value whose lower bound is unknown: check the index against 0 and the size first"),
        ("unbounded memory access", "a memory access whose offset the verifier cannot bound: compare the index against the buffer's size first"),
        ("R0 !read_ok", "the program exits without setting r0"),
        ("program is too large", "the program has more instructions than this kernel allows: shorten the probe or split it"),
        ("BPF program is too large", "the verifier explored more than its 1,000,000-instruction limit: too many branches or loop iterations"),
        ("too many states", "too many distinct paths: simplify the conditions or loops in this probe"),
        ("combined stack size", "the stack frames of the program and its calls exceed 512 bytes"),
        ("stack limit", "the program uses more than 512 bytes of stack"),
        ("unknown func", "the program calls a helper this kernel or program type does not offer"),
        ("invalid func", "the program calls a helper this kernel does not know"),
        ("type=scalar expected", "a helper argument must be a pointer, and a plain number was passed"),
        ("Unreleased reference", "a ring buffer reservation (or another reference) is not submitted or discarded on every path"),
        ("R10 is read only", "the frame pointer r10 cannot be written"),
        ("invalid bpf_context access", "the probe reads its context at an offset or size this program type does not allow"),
        ("div by zero", "a division by a constant zero"),
    ];
    TABLE
        .iter()
        .find(|(pat, _)| message.contains(pat))
        .map(|(_, why)| why.to_string())
        .unwrap_or_else(|| "see docs/verifier-messages.md for the messages stapc knows".to_string())
}

fn diagnostic(
    r: &Rejection<'_>,
    obj: Option<&Object>,
    sm: Option<(&SourceMap, FileId)>,
) -> Diagnostic {
    let first = r.message.lines().next().unwrap_or("rejected").to_string();
    let what = match r.prog {
        Some(p) => {
            let verb = if r.happened {
                "rejected"
            } else {
                "would reject"
            };
            format!("{} {verb} probe {} ({}): {first}", r.who, p.point, p.name)
        }
        None => format!("{} rejected a program: {first}", r.who),
    };
    let mut d = Diagnostic::error("V0001", what);
    let span = match (r.prog, r.insn, sm) {
        (Some(p), Some(i), Some((sm, f))) => span_of(p, i, sm, f),
        _ => None,
    };
    if let Some(span) = span {
        let at = r
            .insn
            .map(|i| format!("instruction {i} comes from here"))
            .unwrap_or_default();
        d = d.with_primary(span, at);
    } else if let Some(i) = r.insn {
        d = d.with_note(format!("at instruction {i}"));
    }
    if let (Some(obj), Some(p), Some(i)) = (obj, r.prog, r.insn) {
        if i < p.insns.len() {
            d = d.with_note(listing(obj, p, i));
        }
    }
    if r.message.lines().count() > 1 {
        d = d.with_note(format!("message: {}", r.message));
    }
    if let Some(state) = r.state.as_deref().filter(|s| !s.is_empty()) {
        d = d.with_note(format!("register state: {state}"));
    }
    d.with_help(r.explanation.clone())
}

/// The mini-verifier's verdict on every program of a freshly compiled
/// object, as diagnostics at the script line. A rejection here is a
/// compiler bug or a script the kernel cannot take; what the mini-verifier
/// does not model (`Unsupported`) is left to the kernel.
pub fn precheck(obj: &Object, target: &Target, sm: &SourceMap, file: FileId) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (name, res) in verifier::verify_object(obj, target) {
        let Err(e) = res else { continue };
        if e.kind == VerifierErrorKind::Unsupported {
            continue;
        }
        let prog = obj.programs.iter().find(|p| p.name == name);
        let r = Rejection {
            who: "the kernel's verifier",
            happened: false,
            prog,
            insn: Some(e.insn),
            message: e.message.clone(),
            state: Some(e.state.clone()),
            explanation: e.explanation.clone(),
        };
        out.push(
            diagnostic(&r, Some(obj), Some((sm, file)))
                .with_note("found by stapc's mini-verifier; run with --explain-verifier for the kernel's own verdict"),
        );
    }
    out
}

/// `--explain-verifier SCRIPT`: every program's verdict from the
/// mini-verifier and, when possible, the kernel. Returns the report and
/// whether every program was accepted.
pub fn explain_object(
    obj: &Object,
    target: &Target,
    sm: &SourceMap,
    file: FileId,
) -> (String, Vec<Diagnostic>, bool) {
    let mut report = String::new();
    let mut diags = Vec::new();
    let mut ok = true;
    for (name, res) in verifier::verify_object(obj, target) {
        let Some(prog) = obj.programs.iter().find(|p| p.name == name) else {
            continue;
        };
        match res {
            Ok(stats) => report.push_str(&format!(
                "probe {} ({name}): accepted by the mini-verifier ({} instructions, {} processed)\n",
                prog.point,
                prog.insns.len(),
                stats.processed_insns
            )),
            Err(e) if e.kind == VerifierErrorKind::Unsupported => report.push_str(&format!(
                "probe {} ({name}): not modelled by the mini-verifier: {}\n",
                prog.point, e.message
            )),
            Err(e) => {
                ok = false;
                report.push_str(&format!("probe {} ({name}): rejected by the mini-verifier\n", prog.point));
                let r = Rejection {
                    who: "the mini-verifier",
                    happened: false,
                    prog: Some(prog),
                    insn: Some(e.insn),
                    message: e.message.clone(),
                    state: Some(e.state.clone()),
                    explanation: e.explanation.clone(),
                };
                diags.push(diagnostic(&r, Some(obj), Some((sm, file))));
            }
        }
    }
    match stapc_loader::can_load_bpf() {
        Err(why) => report.push_str(&format!("kernel: not checked ({why})\n")),
        Ok(()) => match stapc_loader::load(obj) {
            Ok(l) => report.push_str(&format!(
                "kernel: accepted all {} kernel programs\n",
                l.programs().len()
            )),
            Err(stapc_loader::LoadError::Verifier { program, log, .. }) => {
                ok = false;
                report.push_str(&format!("kernel: rejected {program}\n"));
                let prog = obj.programs.iter().find(|p| p.name == program);
                for k in verifier::parse_kernel_log(&log) {
                    let r = Rejection {
                        who: "the kernel's verifier",
                        happened: true,
                        prog,
                        insn: k.insn,
                        explanation: explain_message(&k.message),
                        message: k.message,
                        state: k.state,
                    };
                    diags.push(diagnostic(&r, Some(obj), Some((sm, file))));
                }
            }
            Err(e) => {
                ok = false;
                report.push_str(&format!("kernel: {e}\n"));
            }
        },
    }
    (report, diags, ok)
}

/// `--kernel-log LOG [OBJECT]`: explain a verifier log from any tool. With
/// the object (and its script, when `source_name` is readable), rejections
/// are shown at the script line.
pub fn explain_log(log: &str, obj: Option<&Object>) -> (Vec<Diagnostic>, SourceMap, usize) {
    let mut sm = SourceMap::new();
    let file = obj.and_then(|o| {
        std::fs::read_to_string(&o.source_name)
            .ok()
            .map(|text| sm.add(o.source_name.clone(), text))
    });
    let rejections = verifier::parse_kernel_log(log);
    let n = rejections.len();
    let mut diags = Vec::new();
    for k in rejections {
        // Without a program name in the log, an object with one kernel
        // program is unambiguous.
        let prog = obj.and_then(|o| {
            let kernel: Vec<&Program> = o
                .programs
                .iter()
                .filter(|p| !p.kind.is_userspace())
                .collect();
            match &k.program {
                Some(name) => o.programs.iter().find(|p| &p.name == name),
                None if kernel.len() == 1 => Some(kernel[0]),
                None => None,
            }
        });
        let r = Rejection {
            who: "the kernel's verifier",
            happened: true,
            prog,
            insn: k.insn,
            explanation: explain_message(&k.message),
            message: k.message,
            state: k.state,
        };
        let mut d = diagnostic(&r, obj, file.map(|f| (&sm, f)));
        if let Some(src) = k.source {
            d = d.with_note(format!("the log's source line: {src}"));
        }
        diags.push(d);
    }
    (diags, sm, n)
}
