//! Probe points: validating a written point and decoding it into a
//! `PointKind`, and resolving `$name` target variables against the point
//! (tracepoint fields, syscall arguments, `$return`).
//!
//! The frontend does not read the running kernel, so tracepoint layouts and
//! syscall argument names come from the built-in tables below (x86-64
//! layouts, which the common fields make identical on other 64-bit arches).

use crate::ast::{Component, PointArg, PointSpec};
use crate::codes;
use crate::diag::Diagnostic;
use crate::print::escape_string;
use crate::script::{PointKind, ProbePoint, TargetAccess};
use crate::span::Span;

/// Timer periods assume a kernel with HZ=250 for `jiffies` and `profile`.
const JIFFY_NS: u64 = 4_000_000;
/// `perf.*` without `.sample(N)` samples every this many events (as stap).
const DEFAULT_SAMPLE: u64 = 1_000_000;

/// A point argument after `$1`/`@1` substitution.
#[derive(Clone, Debug, PartialEq)]
enum Arg {
    Num(i64),
    Str(String),
}

fn arg_text(a: &Arg) -> String {
    match a {
        Arg::Num(n) => n.to_string(),
        Arg::Str(s) => escape_string(s),
    }
}

struct Comp {
    name: String,
    arg: Option<Arg>,
    span: Span,
}

fn err(span: Span, msg: impl Into<String>, label: &str) -> Diagnostic {
    Diagnostic::error(codes::BAD_POINT, msg).with_primary(span, label)
}

/// Decode one point; `None` after reporting why not.
pub fn decode(
    p: &PointSpec,
    script_args: &[String],
    diags: &mut Vec<Diagnostic>,
) -> Option<ProbePoint> {
    let mut comps = Vec::new();
    for c in &p.components {
        comps.push(Comp {
            name: c.name.clone(),
            arg: substitute(c, script_args, diags)?,
            span: c.span,
        });
    }
    let text = comps
        .iter()
        .map(|c| match &c.arg {
            Some(a) => format!("{}({})", c.name, arg_text(a)),
            None => c.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(".");
    if comps.iter().any(|c| {
        c.name.contains('*') || matches!(&c.arg, Some(Arg::Str(s)) if s.contains(['*', '?']))
    }) {
        diags.push(
            Diagnostic::error(
                codes::UNSUPPORTED,
                "not supported by stapc: wildcard probe points",
            )
            .with_primary(p.span, "matches several points")
            .with_help("name each point explicitly: `probe a, b { … }`"),
        );
        return None;
    }
    let kind = decode_kind(&comps, p.span, diags)?;
    Some(ProbePoint {
        span: p.span,
        text,
        kind,
    })
}

fn substitute(c: &Component, args: &[String], diags: &mut Vec<Diagnostic>) -> Option<Option<Arg>> {
    Some(match &c.arg {
        None => None,
        Some(PointArg::Number(n)) => Some(Arg::Num(*n)),
        Some(PointArg::Str(s)) => Some(Arg::Str(s.clone())),
        Some(PointArg::ScriptArg { n, as_string }) => {
            let v = script_arg(*n, *as_string, args, c.span, diags)?;
            Some(match v {
                crate::script::Literal::Long(n) => Arg::Num(n),
                crate::script::Literal::String(s) => Arg::Str(s),
            })
        }
    })
}

/// The value of `$n` (a number) or `@n` (a string); `n == u32::MAX` is `$#`.
pub fn script_arg(
    n: u32,
    as_string: bool,
    args: &[String],
    span: Span,
    diags: &mut Vec<Diagnostic>,
) -> Option<crate::script::Literal> {
    use crate::script::Literal;
    let sigil = if as_string { '@' } else { '$' };
    if n == u32::MAX {
        return Some(if as_string {
            Literal::String(args.len().to_string())
        } else {
            Literal::Long(args.len() as i64)
        });
    }
    let Some(v) = n.checked_sub(1).and_then(|i| args.get(i as usize)) else {
        diags.push(
            Diagnostic::error(
                codes::SCRIPT_ARG,
                format!("missing script argument `{sigil}{n}`"),
            )
            .with_primary(span, "not given on the command line")
            .with_note(format!("{} argument(s) were given", args.len())),
        );
        return None;
    };
    if as_string {
        return Some(Literal::String(v.clone()));
    }
    let t = v.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    match crate::lexer::parse_number(digits) {
        Ok(x) if !digits.is_empty() => Some(Literal::Long(if neg { x.wrapping_neg() } else { x })),
        _ => {
            diags.push(
                Diagnostic::error(
                    codes::SCRIPT_ARG,
                    format!("script argument `${n}` is not a number: {v:?}"),
                )
                .with_primary(span, "used as a number here")
                .with_help(format!("use `@{n}` to use the argument as a string")),
            );
            None
        }
    }
}

fn num_arg(c: &Comp, diags: &mut Vec<Diagnostic>) -> Option<i64> {
    match &c.arg {
        Some(Arg::Num(n)) => Some(*n),
        _ => {
            diags.push(
                Diagnostic::error(
                    codes::BAD_POINT_ARG,
                    format!("`{}` needs a number argument", c.name),
                )
                .with_primary(c.span, "expected e.g. `(100)`"),
            );
            None
        }
    }
}

fn str_arg(c: &Comp, diags: &mut Vec<Diagnostic>) -> Option<String> {
    match &c.arg {
        Some(Arg::Str(s)) => Some(s.clone()),
        _ => {
            diags.push(
                Diagnostic::error(
                    codes::BAD_POINT_ARG,
                    format!("`{}` needs a string argument", c.name),
                )
                .with_primary(c.span, "expected e.g. `(\"name\")`"),
            );
            None
        }
    }
}

fn no_arg(c: &Comp, diags: &mut Vec<Diagnostic>) -> Option<()> {
    if c.arg.is_some() {
        diags.push(
            Diagnostic::error(
                codes::BAD_POINT_ARG,
                format!("`{}` takes no argument", c.name),
            )
            .with_primary(c.span, "unexpected argument"),
        );
        return None;
    }
    Some(())
}

fn is_return(cs: &[Comp], at: usize, span: Span, diags: &mut Vec<Diagnostic>) -> Option<bool> {
    match cs.get(at) {
        None => Some(false),
        Some(c) if c.name == "return" && cs.len() == at + 1 => {
            no_arg(c, diags)?;
            Some(true)
        }
        Some(c) => {
            diags.push(err(
                c.span.to(span),
                format!("unexpected `.{}` in probe point", c.name),
                "expected `.return` or nothing",
            ));
            None
        }
    }
}

fn decode_kind(cs: &[Comp], span: Span, diags: &mut Vec<Diagnostic>) -> Option<PointKind> {
    let Some(first) = cs.first() else {
        diags.push(err(span, "empty probe point", "expected a probe point"));
        return None;
    };
    let pos_arg = |c: &Comp, diags: &mut Vec<Diagnostic>| -> Option<u64> {
        let n = num_arg(c, diags)?;
        if n <= 0 {
            diags.push(
                Diagnostic::error(
                    codes::BAD_POINT_ARG,
                    format!("`{}` needs a positive number", c.name),
                )
                .with_primary(c.span, format!("{n} is not positive")),
            );
            return None;
        }
        Some(n as u64)
    };
    let only = |diags: &mut Vec<Diagnostic>| -> Option<()> {
        if cs.len() > 1 {
            diags.push(err(
                cs[1].span,
                format!("unexpected `.{}` after `{}`", cs[1].name, first.name),
                "not part of this point",
            ));
            return None;
        }
        Some(())
    };
    match first.name.as_str() {
        "begin" | "end" | "error" => {
            only(diags)?;
            let priority = match &first.arg {
                None => 0,
                Some(_) => num_arg(first, diags)?,
            };
            Some(match first.name.as_str() {
                "begin" => PointKind::Begin { priority },
                "end" => PointKind::End { priority },
                _ => PointKind::Error { priority },
            })
        }
        "never" | "oneshot" => {
            only(diags)?;
            no_arg(first, diags)?;
            Some(if first.name == "never" {
                PointKind::Never
            } else {
                PointKind::Oneshot
            })
        }
        "timer" => {
            no_arg(first, diags)?;
            let Some(unit) = cs.get(1) else {
                diags.push(err(
                    span,
                    "`timer` needs a unit",
                    "expected e.g. `timer.ms(100)`",
                ));
                return None;
            };
            if cs.len() > 2 {
                diags.push(
                    Diagnostic::error(
                        codes::UNSUPPORTED,
                        format!("not supported by stapc: `timer….{}`", cs[2].name),
                    )
                    .with_primary(cs[2].span, "unsupported timer modifier"),
                );
                return None;
            }
            if unit.name == "profile" || unit.name == "profile_tick" {
                no_arg(unit, diags)?;
                return Some(PointKind::Timer {
                    period_ns: JIFFY_NS,
                    profile: true,
                });
            }
            let mult: Option<u64> = match unit.name.as_str() {
                "s" | "sec" => Some(1_000_000_000),
                "ms" | "msec" => Some(1_000_000),
                "us" | "usec" => Some(1_000),
                "ns" | "nsec" => Some(1),
                "jiffies" => Some(JIFFY_NS),
                "hz" => None,
                _ => {
                    diags.push(
                        err(
                            unit.span,
                            format!("unknown timer unit `{}`", unit.name),
                            "unknown unit",
                        )
                        .with_help("use timer.s, .ms, .us, .ns, .hz, .jiffies or .profile"),
                    );
                    return None;
                }
            };
            let n = pos_arg(unit, diags)?;
            let period_ns = match mult {
                Some(m) => n.checked_mul(m),
                None => (n <= 1_000_000_000).then(|| 1_000_000_000 / n),
            };
            match period_ns {
                Some(p) if p > 0 => Some(PointKind::Timer {
                    period_ns: p,
                    profile: false,
                }),
                _ => {
                    diags.push(
                        Diagnostic::error(codes::BAD_POINT_ARG, "timer period out of range")
                            .with_primary(
                                unit.span,
                                "the period must be between 1 ns and 584 years",
                            ),
                    );
                    None
                }
            }
        }
        "kernel" | "kprobe" => {
            no_arg(first, diags)?;
            let Some(c) = cs.get(1) else {
                diags.push(err(
                    span,
                    format!("incomplete probe point `{}`", first.name),
                    "expected `.function(\"…\")` or `.trace(\"…\")`",
                ));
                return None;
            };
            match c.name.as_str() {
                "function" => {
                    let function = str_arg(c, diags)?;
                    let ret = is_return(cs, 2, span, diags)?;
                    Some(PointKind::KernelFunction { function, ret })
                }
                "trace" if first.name == "kernel" => {
                    let s = str_arg(c, diags)?;
                    if cs.len() > 2 {
                        diags.push(err(
                            cs[2].span,
                            "unexpected component after `kernel.trace(…)`",
                            "here",
                        ));
                        return None;
                    }
                    let (group, name) = match s.split_once(':') {
                        Some((g, n)) => (g.to_string(), n.to_string()),
                        None => match TRACEPOINTS.iter().find(|t| t.name == s) {
                            Some(t) => (t.group.to_string(), s.clone()),
                            None => {
                                diags.push(
                                    err(
                                        c.span,
                                        format!("unknown tracepoint `{s}`"),
                                        "no group given and not a known tracepoint",
                                    )
                                    .with_help(format!(
                                        "write the group too: kernel.trace(\"group:{s}\")"
                                    )),
                                );
                                return None;
                            }
                        },
                    };
                    if group.is_empty() || name.is_empty() {
                        diags.push(err(
                            c.span,
                            format!("invalid tracepoint `{s}`"),
                            "expected \"group:event\"",
                        ));
                        return None;
                    }
                    Some(PointKind::Tracepoint { group, name })
                }
                other => {
                    diags.push(
                        err(c.span, format!("unknown probe point `{}.{other}`", first.name), "not a known point")
                            .with_help("kernel points: kernel.function(\"f\")[.return], kernel.trace(\"group:event\")"),
                    );
                    None
                }
            }
        }
        "syscall" => {
            no_arg(first, diags)?;
            let Some(c) = cs.get(1) else {
                diags.push(err(
                    span,
                    "`syscall` needs a system call name",
                    "expected e.g. `syscall.read`",
                ));
                return None;
            };
            no_arg(c, diags)?;
            if !SYSCALLS.iter().any(|s| s.0 == c.name) {
                let mut d = err(
                    c.span,
                    format!("unknown system call `{}`", c.name),
                    "not a known system call",
                );
                if let Some(best) = crate::sema::closest(&c.name, SYSCALLS.iter().map(|s| s.0)) {
                    d = d.with_help(format!("did you mean `{best}`?"));
                }
                diags.push(d);
                return None;
            }
            let ret = is_return(cs, 2, span, diags)?;
            Some(PointKind::Syscall {
                name: c.name.clone(),
                ret,
            })
        }
        "process" => {
            let path = str_arg(first, diags)?;
            match cs.get(1) {
                Some(c) if c.name == "function" => {
                    let symbol = str_arg(c, diags)?;
                    let ret = is_return(cs, 2, span, diags)?;
                    Some(PointKind::Process { path, symbol, ret })
                }
                Some(c) => {
                    diags.push(
                        Diagnostic::error(
                            codes::UNSUPPORTED,
                            format!("not supported by stapc: `process(…).{}`", c.name),
                        )
                        .with_primary(
                            c.span,
                            "only process(\"path\").function(\"symbol\")[.return] is supported",
                        ),
                    );
                    None
                }
                None => {
                    diags.push(err(
                        span,
                        "`process(…)` needs `.function(\"symbol\")`",
                        "incomplete point",
                    ));
                    None
                }
            }
        }
        "perf" => {
            no_arg(first, diags)?;
            let Some(c) = cs.get(1) else {
                diags.push(err(
                    span,
                    "incomplete `perf` point",
                    "expected perf.type(T).config(C) or perf.hw.NAME / perf.sw.NAME",
                ));
                return None;
            };
            let (type_, config, rest) = match c.name.as_str() {
                "type" => {
                    let t = num_arg(c, diags)?;
                    let Some(cc) = cs.get(2).filter(|cc| cc.name == "config") else {
                        diags.push(err(
                            span,
                            "`perf.type(T)` needs `.config(C)`",
                            "incomplete point",
                        ));
                        return None;
                    };
                    let conf = num_arg(cc, diags)?;
                    (u32::try_from(t).ok()?, conf as u64, 3)
                }
                "hw" | "sw" => {
                    let table: &[&str] = if c.name == "hw" { &PERF_HW } else { &PERF_SW };
                    let Some(ev) = cs.get(2) else {
                        diags.push(err(
                            span,
                            format!("`perf.{}` needs an event name", c.name),
                            "incomplete point",
                        ));
                        return None;
                    };
                    let Some(idx) = table.iter().position(|n| *n == ev.name) else {
                        let mut d = err(
                            ev.span,
                            format!("unknown perf event `{}`", ev.name),
                            "unknown event",
                        );
                        if let Some(b) = crate::sema::closest(&ev.name, table.iter().copied()) {
                            d = d.with_help(format!("did you mean `{b}`?"));
                        }
                        diags.push(d);
                        return None;
                    };
                    (if c.name == "hw" { 0 } else { 1 }, idx as u64, 3)
                }
                other => {
                    diags.push(err(
                        c.span,
                        format!("unknown probe point `perf.{other}`"),
                        "unknown",
                    ));
                    return None;
                }
            };
            let mut sample_period = DEFAULT_SAMPLE;
            match cs.get(rest) {
                None => {}
                Some(s) if s.name == "sample" && cs.len() == rest + 1 => {
                    sample_period = pos_arg(s, diags)?
                }
                Some(s) => {
                    diags.push(err(
                        s.span,
                        format!("unexpected `.{}` in perf point", s.name),
                        "expected `.sample(N)` or nothing",
                    ));
                    return None;
                }
            }
            Some(PointKind::Perf {
                type_,
                config,
                sample_period,
            })
        }
        other => {
            let mut d = err(
                first.span,
                format!("unknown probe point `{other}`"),
                "not a known probe point",
            );
            let known = [
                "begin", "end", "error", "never", "oneshot", "timer", "kernel", "kprobe",
                "syscall", "process", "perf",
            ];
            if let Some(b) = crate::sema::closest(other, known.iter().copied()) {
                d = d.with_help(format!("did you mean `{b}`?"));
            } else {
                d = d.with_help("stapc supports begin, end, error, never, oneshot, timer.*, kernel.function, kernel.trace, syscall.*, process(…).function, perf.*");
            }
            if other.contains('=') || cs.len() > 6 {
                d = d.with_note("probe aliases are not supported by stapc");
            }
            diags.push(d);
            None
        }
    }
}

const PERF_HW: [&str; 10] = [
    "cpu_cycles",
    "instructions",
    "cache_references",
    "cache_misses",
    "branch_instructions",
    "branch_misses",
    "bus_cycles",
    "stalled_cycles_frontend",
    "stalled_cycles_backend",
    "ref_cpu_cycles",
];
const PERF_SW: [&str; 9] = [
    "cpu_clock",
    "task_clock",
    "page_faults",
    "context_switches",
    "cpu_migrations",
    "page_faults_min",
    "page_faults_maj",
    "alignment_faults",
    "emulation_faults",
];

struct Tracepoint {
    group: &'static str,
    name: &'static str,
    /// (field, offset, size, signed)
    fields: &'static [(&'static str, u32, u32, bool)],
}

/// Layouts after the 8-byte common header (type, flags, preempt count, pid).
const TRACEPOINTS: &[Tracepoint] = &[
    Tracepoint {
        group: "sched",
        name: "sched_switch",
        fields: &[
            ("prev_pid", 24, 4, true),
            ("prev_prio", 28, 4, true),
            ("prev_state", 32, 8, true),
            ("next_pid", 56, 4, true),
            ("next_prio", 60, 4, true),
        ],
    },
    Tracepoint {
        group: "sched",
        name: "sched_wakeup",
        fields: &[
            ("pid", 24, 4, true),
            ("prio", 28, 4, true),
            ("target_cpu", 32, 4, true),
        ],
    },
    Tracepoint {
        group: "sched",
        name: "sched_wakeup_new",
        fields: &[
            ("pid", 24, 4, true),
            ("prio", 28, 4, true),
            ("target_cpu", 32, 4, true),
        ],
    },
    Tracepoint {
        group: "sched",
        name: "sched_process_fork",
        fields: &[("parent_pid", 24, 4, true), ("child_pid", 44, 4, true)],
    },
    Tracepoint {
        group: "sched",
        name: "sched_process_exit",
        fields: &[("pid", 24, 4, true), ("prio", 28, 4, true)],
    },
    Tracepoint {
        group: "sched",
        name: "sched_process_free",
        fields: &[("pid", 24, 4, true), ("prio", 28, 4, true)],
    },
    Tracepoint {
        group: "sched",
        name: "sched_process_exec",
        fields: &[("pid", 12, 4, true), ("old_pid", 16, 4, true)],
    },
    Tracepoint {
        group: "raw_syscalls",
        name: "sys_enter",
        fields: &[("id", 8, 8, true)],
    },
    Tracepoint {
        group: "raw_syscalls",
        name: "sys_exit",
        fields: &[("id", 8, 8, true), ("ret", 16, 8, true)],
    },
    Tracepoint {
        group: "irq",
        name: "irq_handler_entry",
        fields: &[("irq", 8, 4, true)],
    },
    Tracepoint {
        group: "irq",
        name: "irq_handler_exit",
        fields: &[("irq", 8, 4, true), ("ret", 12, 4, true)],
    },
    Tracepoint {
        group: "irq",
        name: "softirq_entry",
        fields: &[("vec", 8, 4, false)],
    },
    Tracepoint {
        group: "irq",
        name: "softirq_exit",
        fields: &[("vec", 8, 4, false)],
    },
    Tracepoint {
        group: "timer",
        name: "hrtimer_expire_entry",
        fields: &[("hrtimer", 8, 8, false), ("now", 16, 8, true)],
    },
    Tracepoint {
        group: "kmem",
        name: "kmalloc",
        fields: &[
            ("call_site", 8, 8, false),
            ("ptr", 16, 8, false),
            ("bytes_req", 24, 8, false),
            ("bytes_alloc", 32, 8, false),
        ],
    },
    Tracepoint {
        group: "kmem",
        name: "kfree",
        fields: &[("call_site", 8, 8, false), ("ptr", 16, 8, false)],
    },
    Tracepoint {
        group: "block",
        name: "block_rq_complete",
        fields: &[
            ("dev", 8, 4, false),
            ("sector", 16, 8, false),
            ("nr_sector", 24, 4, false),
            ("error", 28, 4, true),
        ],
    },
    Tracepoint {
        group: "net",
        name: "netif_receive_skb",
        fields: &[("skbaddr", 8, 8, false), ("len", 16, 4, false)],
    },
    Tracepoint {
        group: "net",
        name: "net_dev_xmit",
        fields: &[
            ("skbaddr", 8, 8, false),
            ("len", 16, 4, false),
            ("rc", 20, 4, true),
        ],
    },
];

/// System calls and their argument names (the `sys_enter_NAME` fields).
const SYSCALLS: &[(&str, &[&str])] = &[
    ("read", &["fd", "buf", "count"]),
    ("write", &["fd", "buf", "count"]),
    ("open", &["filename", "flags", "mode"]),
    ("openat", &["dfd", "filename", "flags", "mode"]),
    ("close", &["fd"]),
    ("stat", &["filename", "statbuf"]),
    ("fstat", &["fd", "statbuf"]),
    ("newfstatat", &["dfd", "filename", "statbuf", "flag"]),
    ("lseek", &["fd", "offset", "whence"]),
    ("mmap", &["addr", "len", "prot", "flags", "fd", "off"]),
    ("munmap", &["addr", "len"]),
    ("brk", &["brk"]),
    ("ioctl", &["fd", "cmd", "arg"]),
    ("pread64", &["fd", "buf", "count", "pos"]),
    ("pwrite64", &["fd", "buf", "count", "pos"]),
    ("readv", &["fd", "vec", "vlen"]),
    ("writev", &["fd", "vec", "vlen"]),
    ("access", &["filename", "mode"]),
    ("pipe", &["fildes"]),
    ("pipe2", &["fildes", "flags"]),
    ("dup", &["fildes"]),
    ("dup2", &["oldfd", "newfd"]),
    ("dup3", &["oldfd", "newfd", "flags"]),
    ("nanosleep", &["rqtp", "rmtp"]),
    ("clock_nanosleep", &["which_clock", "flags", "rqtp", "rmtp"]),
    ("getpid", &[]),
    ("gettid", &[]),
    ("getppid", &[]),
    ("socket", &["family", "type", "protocol"]),
    ("connect", &["fd", "uservaddr", "addrlen"]),
    ("accept", &["fd", "upeer_sockaddr", "upeer_addrlen"]),
    (
        "accept4",
        &["fd", "upeer_sockaddr", "upeer_addrlen", "flags"],
    ),
    (
        "sendto",
        &["fd", "buff", "len", "flags", "addr", "addr_len"],
    ),
    (
        "recvfrom",
        &["fd", "ubuf", "size", "flags", "addr", "addr_len"],
    ),
    ("sendmsg", &["fd", "msg", "flags"]),
    ("recvmsg", &["fd", "msg", "flags"]),
    ("bind", &["fd", "umyaddr", "addrlen"]),
    ("listen", &["fd", "backlog"]),
    (
        "clone",
        &[
            "clone_flags",
            "newsp",
            "parent_tidptr",
            "child_tidptr",
            "tls",
        ],
    ),
    ("fork", &[]),
    ("vfork", &[]),
    ("execve", &["filename", "argv", "envp"]),
    ("exit", &["error_code"]),
    ("exit_group", &["error_code"]),
    ("wait4", &["upid", "stat_addr", "options", "ru"]),
    ("kill", &["pid", "sig"]),
    ("tgkill", &["tgid", "pid", "sig"]),
    ("uname", &["name"]),
    ("fcntl", &["fd", "cmd", "arg"]),
    ("fsync", &["fd"]),
    ("truncate", &["path", "length"]),
    ("ftruncate", &["fd", "length"]),
    ("getdents64", &["fd", "dirent", "count"]),
    ("getcwd", &["buf", "size"]),
    ("chdir", &["filename"]),
    ("rename", &["oldname", "newname"]),
    (
        "renameat2",
        &["olddfd", "oldname", "newdfd", "newname", "flags"],
    ),
    ("mkdir", &["pathname", "mode"]),
    ("mkdirat", &["dfd", "pathname", "mode"]),
    ("rmdir", &["pathname"]),
    ("unlink", &["pathname"]),
    ("unlinkat", &["dfd", "pathname", "flag"]),
    ("readlink", &["path", "buf", "bufsiz"]),
    ("chmod", &["filename", "mode"]),
    ("futex", &["uaddr", "op", "val", "utime", "uaddr2", "val3"]),
    ("poll", &["ufds", "nfds", "timeout_msecs"]),
    ("ppoll", &["ufds", "nfds", "tsp", "sigmask", "sigsetsize"]),
    ("select", &["n", "inp", "outp", "exp", "tvp"]),
    ("epoll_wait", &["epfd", "events", "maxevents", "timeout"]),
    (
        "epoll_pwait",
        &[
            "epfd",
            "events",
            "maxevents",
            "timeout",
            "sigmask",
            "sigsetsize",
        ],
    ),
    ("epoll_ctl", &["epfd", "op", "fd", "event"]),
    ("sched_yield", &[]),
    ("getrandom", &["buf", "count", "flags"]),
    ("mprotect", &["start", "len", "prot"]),
    ("madvise", &["start", "len_in", "behavior"]),
    ("rt_sigaction", &["sig", "act", "oact", "sigsetsize"]),
    ("rt_sigprocmask", &["how", "nset", "oset", "sigsetsize"]),
    ("prctl", &["option", "arg2", "arg3", "arg4", "arg5"]),
    ("setuid", &["uid"]),
    ("setgid", &["gid"]),
    ("bpf", &["cmd", "uattr", "size"]),
    (
        "perf_event_open",
        &["attr_uptr", "pid", "cpu", "group_fd", "flags"],
    ),
];

/// Resolve `$name` against one point.
pub fn target_var(kind: &PointKind, name: &str) -> Result<TargetAccess, String> {
    match kind {
        // The syscalls group is the tracepoint of `syscall.NAME[.return]`:
        // the same layout (nr, then the arguments or the return value).
        PointKind::Tracepoint { group, name: ev } if group == "syscalls" => {
            let (sc, ret) = match (ev.strip_prefix("sys_enter_"), ev.strip_prefix("sys_exit_")) {
                (Some(sc), _) => (sc, false),
                (_, Some(sc)) => (sc, true),
                _ => return Err(format!("`syscalls:{ev}` is not a sys_enter_/sys_exit_ tracepoint")),
            };
            target_var(&PointKind::Syscall { name: sc.to_string(), ret }, name)
        }
        PointKind::Tracepoint { group, name: ev } => {
            let Some(tp) = TRACEPOINTS.iter().find(|t| t.group == group && t.name == ev) else {
                return Err(format!("the layout of tracepoint `{group}:{ev}` is not known to stapc"));
            };
            match tp.fields.iter().find(|f| f.0 == name) {
                Some(&(_, offset, size, signed)) => Ok(TargetAccess::Field { offset, size, signed }),
                None => {
                    let all: Vec<&str> = tp.fields.iter().map(|f| f.0).collect();
                    Err(format!("`{group}:{ev}` has no field `{name}` (fields: {})", all.join(", ")))
                }
            }
        }
        PointKind::Syscall { name: sc, ret } => {
            if *ret {
                return match name {
                    "ret" | "return" => Ok(TargetAccess::Field { offset: 16, size: 8, signed: true }),
                    _ => Err(format!("`syscall.{sc}.return` has only `$ret`")),
                };
            }
            let args = SYSCALLS.iter().find(|s| s.0 == sc).map_or(&[][..], |s| s.1);
            match args.iter().position(|a| *a == name) {
                Some(i) => Ok(TargetAccess::Field { offset: 16 + 8 * i as u32, size: 8, signed: true }),
                None if name == "syscall_nr" => Ok(TargetAccess::Field { offset: 8, size: 4, signed: true }),
                None => Err(format!("`syscall.{sc}` has no argument `{name}` (arguments: {})", args.join(", "))),
            }
        }
        PointKind::KernelFunction { ret: true, .. } | PointKind::Process { ret: true, .. } if name == "return" => {
            Ok(TargetAccess::Return)
        }
        PointKind::KernelFunction { function, .. } => {
            match KFUNCS.iter().find(|f| f.0 == function).and_then(|f| f.1.iter().position(|p| *p == name)) {
                Some(i) => Ok(TargetAccess::Arg(i as u32)),
                None => Err(format!(
                    "the parameters of `{function}` are not known to stapc (kernel BTF is not read at compile time); use int_arg(n)/pointer_arg(n)"
                )),
            }
        }
        PointKind::Process { symbol, .. } => {
            Err(format!("parameters of `{symbol}` cannot be named without debug info; use int_arg(n)/pointer_arg(n)"))
        }
        _ => Err("this probe point has no target variables".to_string()),
    }
}

/// Parameters of a few commonly probed kernel functions.
const KFUNCS: &[(&str, &[&str])] = &[
    ("vfs_read", &["file", "buf", "count", "pos"]),
    ("vfs_write", &["file", "buf", "count", "pos"]),
    ("vfs_open", &["path", "file"]),
    ("do_sys_open", &["dfd", "filename", "flags", "mode"]),
    ("do_sys_openat2", &["dfd", "filename", "how"]),
    ("tcp_sendmsg", &["sk", "msg", "size"]),
    ("tcp_recvmsg", &["sk", "msg", "len", "flags", "addr_len"]),
    ("do_exit", &["code"]),
    ("kfree", &["objp"]),
    ("__kmalloc", &["size", "flags"]),
    ("schedule_timeout", &["timeout"]),
    ("do_nanosleep", &["t", "mode"]),
    ("wake_up_process", &["p"]),
    ("security_file_open", &["file"]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Literal;

    #[test]
    fn syscall_fields_follow_the_tracepoint_layout() {
        let read = PointKind::Syscall {
            name: "read".into(),
            ret: false,
        };
        assert_eq!(
            target_var(&read, "fd"),
            Ok(TargetAccess::Field {
                offset: 16,
                size: 8,
                signed: true
            })
        );
        assert_eq!(
            target_var(&read, "count"),
            Ok(TargetAccess::Field {
                offset: 32,
                size: 8,
                signed: true
            })
        );
        assert!(target_var(&read, "nope")
            .unwrap_err()
            .contains("fd, buf, count"));
        let ret = PointKind::Syscall {
            name: "read".into(),
            ret: true,
        };
        assert_eq!(
            target_var(&ret, "ret"),
            Ok(TargetAccess::Field {
                offset: 16,
                size: 8,
                signed: true
            })
        );
    }

    #[test]
    fn function_points_resolve_return_and_known_params() {
        let k = PointKind::KernelFunction {
            function: "vfs_write".into(),
            ret: true,
        };
        assert_eq!(target_var(&k, "return"), Ok(TargetAccess::Return));
        assert_eq!(target_var(&k, "count"), Ok(TargetAccess::Arg(2)));
        assert!(target_var(&PointKind::Begin { priority: 0 }, "x").is_err());
    }

    #[test]
    fn script_args_parse_as_numbers_or_strings() {
        let args = vec!["-0x10".to_string(), "abc".to_string()];
        let mut d = Vec::new();
        assert_eq!(
            script_arg(1, false, &args, Span::default(), &mut d),
            Some(Literal::Long(-16))
        );
        assert_eq!(
            script_arg(2, true, &args, Span::default(), &mut d),
            Some(Literal::String("abc".into()))
        );
        assert_eq!(
            script_arg(u32::MAX, false, &args, Span::default(), &mut d),
            Some(Literal::Long(2))
        );
        assert!(d.is_empty());
        assert_eq!(script_arg(2, false, &args, Span::default(), &mut d), None);
        assert_eq!(script_arg(3, true, &args, Span::default(), &mut d), None);
        assert_eq!(d.len(), 2);
    }
}
