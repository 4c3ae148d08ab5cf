//! Reading a real kernel verifier log (libbpf, bpftool or bpftrace -v
//! output): which instruction failed, with what message, in what state, so
//! `--explain-verifier --kernel-log` can map it back to the script.
//!
//! The log is a trace: `N: (op) text` instruction lines, state lines
//! (`N: R1=ctx() R10=fp0`, `from 4 to 6: ...`, or `; R0_w=...` after an
//! instruction), source lines (`; x = y @ file:3`), and at the end of a
//! failed load the message lines and a `processed N insns` summary. Logs of
//! several programs (libbpf's `-- BEGIN PROG LOAD LOG --` blocks, each after
//! a `prog 'name'` line) give one rejection each.

/// One failed program found in a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelLogRejection {
    /// The program's name when the log says (libbpf `prog 'name'`).
    pub program: Option<String>,
    /// The failing instruction: the last one traced, or the one the
    /// message names (`unreachable insn 5`).
    pub insn: Option<usize>,
    /// The kernel's message, lines joined with `\n`.
    pub message: String,
    /// The last register state printed before the failure.
    pub state: Option<String>,
    /// The last source line annotation (`; ...`) before the failure.
    pub source: Option<String>,
}

/// `N: (xx) ...` → N.
fn insn_line(line: &str) -> Option<usize> {
    let (n, rest) = line.split_once(": ")?;
    let n: usize = n.trim().parse().ok()?;
    let rest = rest.trim_start();
    let b = rest.as_bytes();
    if b.len() >= 4
        && b[0] == b'('
        && b[3] == b')'
        && b[1].is_ascii_hexdigit()
        && b[2].is_ascii_hexdigit()
    {
        Some(n)
    } else {
        None
    }
}

/// State text of `N: R1=...`, `from A to B: R1=...`, or `N: frame0: ...`.
fn state_line(line: &str) -> Option<(Option<usize>, String)> {
    let t = line.trim();
    if let Some(rest) = t.strip_prefix("from ") {
        let (head, state) = rest.split_once(": ")?;
        let to = head.split_whitespace().last()?.parse().ok();
        return Some((to, state.trim().to_string()));
    }
    let (n, rest) = t.split_once(": ")?;
    let n: usize = n.trim().parse().ok()?;
    let rest = rest.trim_start();
    if rest.starts_with('R') && rest.as_bytes().get(1).is_some_and(|c| c.is_ascii_digit())
        || rest.starts_with("frame")
    {
        return Some((Some(n), rest.to_string()));
    }
    None
}

/// Lines that are summaries or tool chatter, not the verifier's message.
fn is_noise(t: &str) -> bool {
    t.is_empty()
        || t.starts_with("processed ")
        || t.starts_with("verification time")
        || t.starts_with("stack depth")
        || t.starts_with("libbpf:")
        || t.starts_with("-- BEGIN")
        || t.starts_with("-- END")
        || t.starts_with("func#")
        || t.starts_with("last_idx")
        || t.starts_with("regs=")
        || t.starts_with("parent ")
        || t.starts_with("mark_precise")
        || t.starts_with("Validating ")
        || t.starts_with("Error:")
        || t.starts_with("ERROR:")
        || t.starts_with("Kernel error log")
        || t.starts_with("Attaching")
        || t.starts_with("Live regs")
        || t.starts_with("Global function")
        || t.starts_with("arg#")
}

/// The first `insn N` number in a message (`unreachable insn 5`,
/// `back-edge from insn 7 to 3`, `jump out of range from insn 2 to 9`).
fn insn_in_message(msg: &str) -> Option<usize> {
    let i = msg.find("insn ")?;
    let digits: String = msg[i + 5..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn program_name(line: &str) -> Option<String> {
    let i = line.find("prog '")?;
    let rest = &line[i + 6..];
    let end = rest.find('\'')?;
    Some(rest[..end].to_string())
}

#[derive(Default)]
struct Block {
    program: Option<String>,
    insn: Option<usize>,
    state: Option<String>,
    source: Option<String>,
    message: Vec<String>,
    /// A `processed` line or the end of the block closes the message.
    closed: bool,
}

impl Block {
    fn finish(self, out: &mut Vec<KernelLogRejection>) {
        if self.message.is_empty() {
            return;
        }
        let message = self.message.join("\n");
        let insn = insn_in_message(&message)
            .filter(|_| {
                message.starts_with("unreachable insn")
                    || message.starts_with("back-edge")
                    || message.starts_with("jump out of range")
                    || message.starts_with("infinite loop")
            })
            .or(self.insn);
        out.push(KernelLogRejection {
            program: self.program,
            insn,
            message,
            state: self.state,
            source: self.source,
        });
    }
}

/// Every rejection in `log`, in log order.
pub fn parse_kernel_log(log: &str) -> Vec<KernelLogRejection> {
    let mut out = Vec::new();
    let mut b = Block::default();
    for raw in log.lines() {
        let line = raw.trim_end();
        let t = line.trim();
        if let Some(name) = program_name(t) {
            if b.insn.is_some() || !b.message.is_empty() {
                std::mem::take(&mut b).finish(&mut out);
            }
            b.program = Some(name);
            continue;
        }
        if t.starts_with("-- BEGIN") {
            let name = b.program.take();
            std::mem::take(&mut b).finish(&mut out);
            b.program = name;
            continue;
        }
        if t.starts_with("-- END") {
            std::mem::take(&mut b).finish(&mut out);
            continue;
        }
        if t.starts_with("processed ") {
            b.closed = true;
            continue;
        }
        if let Some(n) = insn_line(t) {
            // A new instruction: anything before was trace, not a message.
            b.message.clear();
            b.insn = Some(n);
            if let Some((_, st)) = t.split_once("; ") {
                let st = st.trim();
                if st.starts_with('R') || st.starts_with("frame") {
                    b.state = Some(st.to_string());
                }
            }
            continue;
        }
        if let Some((_, st)) = state_line(t) {
            b.message.clear();
            b.state = Some(st);
            continue;
        }
        if let Some(src) = t.strip_prefix("; ") {
            b.source = Some(src.to_string());
            continue;
        }
        if is_noise(t) || b.closed {
            continue;
        }
        b.message.push(t.to_string());
    }
    b.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_failing_insn() {
        let log = "\
func#0 @0
0: R1=ctx() R10=fp0
0: (b7) r1 = 0                        ; R1_w=0
1: (7b) *(u64 *)(r10 -8) = r1         ; R1_w=0 R10=fp0 fp-8_w=0
2: (bf) r2 = r10                      ; R2_w=fp0 R10=fp0
3: (07) r2 += -8                      ; R2_w=fp-8
4: (18) r1 = 0xffff888100000000       ; R1_w=map_ptr(ks=8,vs=16)
6: (85) call bpf_map_lookup_elem#1    ; R0_w=map_value_or_null(id=1,off=0,ks=8,vs=16)
7: (79) r0 = *(u64 *)(r0 +0)
R0 invalid mem access 'map_value_or_null'
processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";
        let r = parse_kernel_log(log);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].insn, Some(7));
        assert_eq!(r[0].message, "R0 invalid mem access 'map_value_or_null'");
        assert!(r[0]
            .state
            .as_deref()
            .unwrap_or("")
            .contains("map_value_or_null"));
    }

    #[test]
    fn structural_messages_name_their_insn() {
        let r = parse_kernel_log("back-edge from insn 7 to 3\nprocessed 0 insns\n");
        assert_eq!(
            (r[0].insn, r[0].message.as_str()),
            (Some(7), "back-edge from insn 7 to 3")
        );
        let r = parse_kernel_log(
            "libbpf: prog 'kp': BPF program load failed: Invalid argument\nlibbpf: prog 'kp': -- BEGIN PROG LOAD LOG --\nunreachable insn 5\nprocessed 0 insns\n-- END PROG LOAD LOG --\n",
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].program.as_deref(), Some("kp"));
        assert_eq!(r[0].insn, Some(5));
    }
}
