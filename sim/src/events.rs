//! Events files for `--sim-events FILE`: the kernel events a simulated
//! session fires, instead of the default "every probe every 1 ms".
//!
//! # Format
//!
//! JSON lines: one object per line (blank lines are skipped), for example
//!
//! ```text
//! {"time": "5ms", "probe": "kernel.function(\"vfs_read\")", "pid": 42, "comm": "cat", "args": [3, 4096]}
//! {"time": 7000000, "probe": "kernel.function(\"vfs_read\").return", "pid": 42, "return": 128}
//! {"time": "1.5s", "probe": "kernel.trace(\"sched:sched_switch\")", "cpu": 1, "fields": {"prev_pid": 42, "next_pid": 0}}
//! ```
//!
//! | key | value | default |
//! |---|---|---|
//! | `time` (required) | simulated time: nanoseconds as a number, or a string of a number and a unit `ns`, `us`, `ms` or `s` (`"5ms"`, `"1.5s"`) | |
//! | `probe` (required) | the probe point as `pp()` prints it, or the handler's program name | |
//! | `pid`, `tid` | process and thread id | 1000 (`-x PID`: PID); `tid` defaults to `pid` |
//! | `uid`, `gid` | user and group id | 0 |
//! | `comm` | `execname()` | `"stapc-sim"` |
//! | `cpu` | the CPU the event happens on | 0 |
//! | `fields` | object: tracepoint field name → integer or string | every field 0 |
//! | `args` | array of integers or strings: function arguments `$arg1`… (at most 6) | 0 |
//! | `return` | integer: the return value (`$return`) | 0 |
//!
//! Integers may be negative (stored as two's complement 64-bit values). A
//! string stands for a pointer: the simulator puts the string, NUL-terminated,
//! in the traced process's memory for that event, and the field or argument
//! holds its address, so `user_string($filename)` reads it back
//! (`"fields": {"filename": "/etc/passwd"}`).
//! Every probe an events file names fires only at the events given for it;
//! probes it does not name keep firing every 1 ms, and timers fire on their
//! own schedule whatever the file says (an event naming a timer fires it
//! once more). Events at the same instant fire in script order of their
//! probes, then file order. Errors give the file's line and column.

use crate::machine::EventContext;
use bpf::ProgramType;
use std::fmt;

/// One event of an events file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SimEvent {
    /// 1-based line of the file (for messages).
    pub line: usize,
    pub time_ns: u64,
    pub probe: String,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub comm: Option<String>,
    pub cpu: Option<u32>,
    /// Tracepoint fields in file order.
    pub fields: Vec<(String, u64)>,
    pub args: Vec<u64>,
    pub ret: Option<u64>,
    /// Fields and arguments given as strings (their value in `fields` or
    /// `args` is 0 until the string is placed in memory).
    pub strings: Vec<(Pointee, String)>,
}

/// Which value of an event points at a string of the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pointee {
    Field(String),
    Arg(usize),
}

/// A malformed events file: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsError {
    /// 1-based line and column (in characters).
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for EventsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for EventsError {}

/// Most arguments an event may give (x86-64 passes six in registers).
pub const MAX_ARGS: usize = 6;

/// A parsed JSON value with the column where it starts.
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    /// The number's source text (kept exact: integers may need all 64 bits).
    Number(String),
    Str(String),
    Array(Vec<(usize, Json)>),
    /// Keys in file order, each with the column of its value.
    Object(Vec<(String, usize, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::Str(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Nesting deeper than this is refused (no recursion without bound).
const MAX_DEPTH: usize = 64;

/// A recursive-descent JSON parser over one line.
struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Parser {
    fn new(text: &str, line: usize) -> Parser {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
            line,
        }
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> EventsError {
        EventsError {
            line: self.line,
            col: pos + 1,
            message: message.into(),
        }
    }

    fn error(&self, message: impl Into<String>) -> EventsError {
        self.error_at(self.pos, message)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r' | '\n')) {
            self.pos += 1;
        }
    }

    fn describe_here(&self) -> String {
        match self.peek() {
            None => "the end of the line".to_string(),
            Some(c) => format!("`{c}`"),
        }
    }

    fn expect(&mut self, c: char) -> Result<(), EventsError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected `{c}`, found {}", self.describe_here())))
        }
    }

    /// A value; returns its starting column (0-based) too.
    fn value(&mut self, depth: usize) -> Result<(usize, Json), EventsError> {
        self.skip_ws();
        let start = self.pos;
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let v = match self.peek() {
            Some('{') => self.object(depth)?,
            Some('[') => self.array(depth)?,
            Some('"') => Json::Str(self.string()?),
            Some('-' | '0'..='9') => Json::Number(self.number()?),
            Some(c) if c.is_ascii_alphabetic() => {
                let mut word = String::new();
                while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric()) {
                    word.push(c);
                    self.pos += 1;
                }
                match word.as_str() {
                    "true" => Json::Bool(true),
                    "false" => Json::Bool(false),
                    "null" => Json::Null,
                    _ => {
                        return Err(self.error_at(
                            start,
                            format!("unknown word `{word}` (strings need double quotes)"),
                        ))
                    }
                }
            }
            _ => {
                return Err(self.error(format!("expected a value, found {}", self.describe_here())))
            }
        };
        Ok((start, v))
    }

    fn object(&mut self, depth: usize) -> Result<Json, EventsError> {
        self.pos += 1;
        let mut members: Vec<(String, usize, Json)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some('}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            let key_at = self.pos;
            if self.peek() != Some('"') {
                return Err(self.error(format!(
                    "expected a key in double quotes, found {}",
                    self.describe_here()
                )));
            }
            let key = self.string()?;
            if members.iter().any(|(k, _, _)| *k == key) {
                return Err(self.error_at(key_at, format!("duplicate key `{key}`")));
            }
            self.expect(':')?;
            let (at, v) = self.value(depth + 1)?;
            members.push((key, at, v));
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => {
                    return Err(self.error(format!(
                        "expected `,` or `}}`, found {}",
                        self.describe_here()
                    )))
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, EventsError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => {
                    return Err(self.error(format!(
                        "expected `,` or `]`, found {}",
                        self.describe_here()
                    )))
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, EventsError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self
                .peek()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("expected 4 hex digits after `\\u`"))?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, EventsError> {
        let start = self.pos;
        self.pos += 1;
        let mut s = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error_at(start, "string not closed before the end of the line"));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(s),
                '\\' => {
                    let esc_at = self.pos - 1;
                    let Some(e) = self.peek() else {
                        return Err(self.error_at(esc_at, "`\\` at the end of the line"));
                    };
                    self.pos += 1;
                    match e {
                        '"' => s.push('"'),
                        '\\' => s.push('\\'),
                        '/' => s.push('/'),
                        'b' => s.push('\u{8}'),
                        'f' => s.push('\u{c}'),
                        'n' => s.push('\n'),
                        'r' => s.push('\r'),
                        't' => s.push('\t'),
                        'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                // A surrogate pair: `\uD83D\uDE00`.
                                if self.peek() != Some('\\') {
                                    return Err(self.error_at(esc_at, "unpaired surrogate"));
                                }
                                self.pos += 1;
                                if self.peek() != Some('u') {
                                    return Err(self.error_at(esc_at, "unpaired surrogate"));
                                }
                                self.pos += 1;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(self.error_at(esc_at, "unpaired surrogate"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            match char::from_u32(code) {
                                Some(c) => s.push(c),
                                None => {
                                    return Err(self.error_at(esc_at, "unpaired surrogate"));
                                }
                            }
                        }
                        other => {
                            return Err(self.error_at(esc_at, format!("unknown escape `\\{other}`")))
                        }
                    }
                }
                c if (c as u32) < 0x20 => {
                    return Err(self.error_at(self.pos - 1, "control character in a string"))
                }
                c => s.push(c),
            }
        }
    }

    /// A JSON number's text (validated against the JSON grammar).
    fn number(&mut self) -> Result<String, EventsError> {
        let start = self.pos;
        let mut s = String::new();
        let digits = |p: &mut Parser, s: &mut String| {
            let mut n = 0;
            while let Some(c) = p.peek().filter(char::is_ascii_digit) {
                s.push(c);
                p.pos += 1;
                n += 1;
            }
            n
        };
        if self.peek() == Some('-') {
            s.push('-');
            self.pos += 1;
        }
        let int_at = self.pos;
        let n = digits(self, &mut s);
        if n == 0 {
            return Err(self.error("expected a digit"));
        }
        if n > 1 && s.trim_start_matches('-').starts_with('0') {
            return Err(self.error_at(int_at, "numbers may not start with 0"));
        }
        if self.peek() == Some('.') {
            s.push('.');
            self.pos += 1;
            if digits(self, &mut s) == 0 {
                return Err(self.error("expected a digit after `.`"));
            }
        }
        if let Some(e @ ('e' | 'E')) = self.peek() {
            s.push(e);
            self.pos += 1;
            if let Some(sign @ ('+' | '-')) = self.peek() {
                s.push(sign);
                self.pos += 1;
            }
            if digits(self, &mut s) == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        if self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Err(self.error_at(start, "malformed number"));
        }
        Ok(s)
    }
}

/// An integer from a JSON number: -2^63 ..= 2^64-1, as 64 bits.
fn integer(text: &str) -> Option<u64> {
    if let Some(neg) = text.strip_prefix('-') {
        let v: u64 = neg.parse().ok()?;
        if v > 1u64 << 63 {
            return None;
        }
        Some(v.wrapping_neg())
    } else {
        text.parse().ok()
    }
}

/// A time: nanoseconds, or `"<number><unit>"` with unit ns, us, ms or s.
fn parse_time(v: &Json) -> Result<u64, String> {
    match v {
        Json::Number(t) => {
            if t.starts_with('-') {
                return Err("`time` may not be negative".into());
            }
            t.parse::<u64>()
                .map_err(|_| format!("`time` {t} is not a whole number of nanoseconds"))
        }
        Json::Str(s) => {
            let s = s.trim();
            let split = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let scale: u64 = match unit.trim() {
                "ns" => 1,
                "us" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "" => return Err(format!("`time` \"{s}\" needs a unit: ns, us, ms or s")),
                u => return Err(format!("unknown time unit `{u}` (use ns, us, ms or s)")),
            };
            let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
            if whole.is_empty() && frac.is_empty() || frac.contains('.') {
                return Err(format!("`time` \"{s}\" is not a number with a unit"));
            }
            let whole: u64 = if whole.is_empty() {
                0
            } else {
                whole
                    .parse()
                    .map_err(|_| format!("`time` \"{s}\" is out of range"))?
            };
            let mut ns = whole
                .checked_mul(scale)
                .ok_or_else(|| format!("`time` \"{s}\" is out of range"))?;
            // The fraction, digit by digit, down to whole nanoseconds.
            let mut place = scale;
            for d in frac.chars() {
                place /= 10;
                if place == 0 {
                    return Err(format!("`time` \"{s}\" is finer than a nanosecond"));
                }
                ns = ns
                    .checked_add(place * d.to_digit(10).unwrap_or(0) as u64)
                    .ok_or_else(|| format!("`time` \"{s}\" is out of range"))?;
            }
            Ok(ns)
        }
        other => Err(format!(
            "`time` must be a number or a string, not {}",
            other.kind()
        )),
    }
}

/// Parse a whole events file. Events are returned in file order.
pub fn parse_events(text: &str) -> Result<Vec<SimEvent>, EventsError> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        events.push(parse_event(line, i + 1)?);
    }
    Ok(events)
}

/// Read and parse an events file for `--sim-events FILE`; the error is
/// ready to print: `FILE:LINE:COL: message` (or `FILE: <io error>`).
pub fn read_events_file(path: &std::path::Path) -> Result<Vec<SimEvent>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_events(&text).map_err(|e| format!("{}:{e}", path.display()))
}

/// Parse one line (`line` = its 1-based number, for messages).
pub fn parse_event(text: &str, line: usize) -> Result<SimEvent, EventsError> {
    let mut p = Parser::new(text, line);
    let (start, v) = p.value(0)?;
    p.skip_ws();
    if p.peek().is_some() {
        return Err(p.error("one JSON object per line: unexpected text after it"));
    }
    let Json::Object(members) = v else {
        return Err(p.error_at(
            start,
            format!("an event is a JSON object, not {}", v.kind()),
        ));
    };
    let at = |col: usize, message: String| EventsError {
        line,
        col: col + 1,
        message,
    };
    let int = |key: &str, col: usize, v: &Json| -> Result<u64, EventsError> {
        match v {
            Json::Number(t) => integer(t).ok_or_else(|| {
                at(
                    col,
                    format!("`{key}`: {t} is not an integer that fits in 64 bits"),
                )
            }),
            other => Err(at(
                col,
                format!("`{key}` must be an integer, not {}", other.kind()),
            )),
        }
    };
    let u32_of = |key: &str, col: usize, v: &Json| -> Result<u32, EventsError> {
        let n = int(key, col, v)?;
        u32::try_from(n).map_err(|_| at(col, format!("`{key}` must be between 0 and 4294967295")))
    };
    let mut e = SimEvent {
        line,
        ..SimEvent::default()
    };
    let (mut time, mut probe) = (false, false);
    for (key, col, v) in &members {
        let col = *col;
        match key.as_str() {
            "time" => {
                e.time_ns = parse_time(v).map_err(|m| at(col, m))?;
                time = true;
            }
            "probe" => match v {
                Json::Str(s) if !s.is_empty() => {
                    e.probe = s.clone();
                    probe = true;
                }
                Json::Str(_) => return Err(at(col, "`probe` is empty".into())),
                other => {
                    return Err(at(
                        col,
                        format!("`probe` must be a string, not {}", other.kind()),
                    ))
                }
            },
            "pid" => e.pid = Some(u32_of(key, col, v)?),
            "tid" => e.tid = Some(u32_of(key, col, v)?),
            "uid" => e.uid = Some(u32_of(key, col, v)?),
            "gid" => e.gid = Some(u32_of(key, col, v)?),
            "cpu" => e.cpu = Some(u32_of(key, col, v)?),
            "comm" => match v {
                Json::Str(s) => e.comm = Some(s.clone()),
                other => {
                    return Err(at(
                        col,
                        format!("`comm` must be a string, not {}", other.kind()),
                    ))
                }
            },
            "return" => e.ret = Some(int(key, col, v)?),
            "args" => match v {
                Json::Array(items) => {
                    if items.len() > MAX_ARGS {
                        return Err(at(
                            col,
                            format!("`args` has {} items; at most {MAX_ARGS}", items.len()),
                        ));
                    }
                    for (c, item) in items {
                        if let Json::Str(s) = item {
                            e.strings.push((Pointee::Arg(e.args.len()), s.clone()));
                            e.args.push(0);
                            continue;
                        }
                        e.args.push(int("args", *c, item)?);
                    }
                }
                other => {
                    return Err(at(
                        col,
                        format!("`args` must be an array, not {}", other.kind()),
                    ))
                }
            },
            "fields" => match v {
                Json::Object(fields) => {
                    for (name, c, item) in fields {
                        if let Json::Str(s) = item {
                            e.strings.push((Pointee::Field(name.clone()), s.clone()));
                            e.fields.push((name.clone(), 0));
                            continue;
                        }
                        let n = int(&format!("fields.{name}"), *c, item)?;
                        e.fields.push((name.clone(), n));
                    }
                }
                other => {
                    return Err(at(
                        col,
                        format!("`fields` must be an object, not {}", other.kind()),
                    ))
                }
            },
            other => {
                return Err(at(
                    col,
                    format!(
                        "unknown key `{other}` (known: time, probe, pid, tid, uid, gid, comm, cpu, fields, args, return)"
                    ),
                ))
            }
        }
    }
    if !time {
        return Err(at(start, "the event has no `time`".into()));
    }
    if !probe {
        return Err(at(start, "the event has no `probe`".into()));
    }
    Ok(e)
}

/// Offsets in x86-64 `struct pt_regs` (the kprobe, uprobe and perf event
/// context) of the argument registers rdi, rsi, rdx, rcx, r8, r9.
pub const PT_REGS_ARGS: [usize; MAX_ARGS] = [112, 104, 96, 88, 72, 64];
/// Offset of rax in `struct pt_regs`: the return value at a return probe.
pub const PT_REGS_RC: usize = 80;

/// The context bytes a program of type `t` sees for event `e`: `size`
/// zeroed bytes, with the arguments and the return value in the `pt_regs`
/// registers for kprobes, uprobes and perf events, and the event's value of
/// each named field in `fields` (the layout the compiler recorded for the
/// program: tracepoint fields, syscall arguments) at the field's offset.
pub fn context_bytes(
    t: ProgramType,
    size: usize,
    e: &EventContext,
    fields: &[bpf::CtxField],
) -> Vec<u8> {
    let mut ctx = vec![0u8; size];
    for f in fields {
        let (Some(v), n) = (e.field(&f.name), f.size as usize) else {
            continue;
        };
        if let Some(slot) = ctx.get_mut(f.offset as usize..f.offset as usize + n) {
            slot.copy_from_slice(&v.to_le_bytes()[..n]);
        }
    }
    if matches!(t, ProgramType::Kprobe | ProgramType::PerfEvent) {
        let mut put = |off: usize, v: u64| {
            if let Some(slot) = ctx.get_mut(off..off + 8) {
                slot.copy_from_slice(&v.to_le_bytes());
            }
        };
        for (&off, &v) in PT_REGS_ARGS.iter().zip(&e.args) {
            put(off, v);
        }
        put(PT_REGS_RC, e.ret);
    }
    ctx
}

/// Apply what an event gives to the default context of a kernel event.
pub fn apply(e: &SimEvent, ctx: &mut EventContext) {
    if let Some(pid) = e.pid {
        ctx.pid = pid;
        ctx.tid = pid;
    }
    if let Some(tid) = e.tid {
        ctx.tid = tid;
    }
    if let Some(uid) = e.uid {
        ctx.uid = uid;
    }
    if let Some(gid) = e.gid {
        ctx.gid = gid;
    }
    if let Some(comm) = &e.comm {
        ctx.comm = comm.clone();
    }
    if let Some(cpu) = e.cpu {
        ctx.cpu = cpu;
    }
    ctx.fields = e.fields.clone();
    ctx.args = e.args.clone();
    ctx.ret = e.ret.unwrap_or(0);
    ctx.strings = e.strings.clone();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_events(text).expect_err(text).to_string()
    }

    #[test]
    fn full_event() {
        let evs = parse_events(
            "\n{\"time\": \"1.5ms\", \"probe\": \"kernel.function(\\\"f\\\")\", \"pid\": 7, \"tid\": 8, \
             \"uid\": 1, \"gid\": 2, \"comm\": \"cat\", \"cpu\": 1, \"fields\": {\"a\": -1, \"b\": 2}, \
             \"args\": [1, 18446744073709551615], \"return\": -5}\n\n{\"time\": 3, \"probe\": \"p\"}\n",
        )
        .expect("parses");
        assert_eq!(evs.len(), 2);
        let e = &evs[0];
        assert_eq!(e.line, 2);
        assert_eq!(e.time_ns, 1_500_000);
        assert_eq!(e.probe, "kernel.function(\"f\")");
        assert_eq!(
            (e.pid, e.tid, e.uid, e.gid, e.cpu),
            (Some(7), Some(8), Some(1), Some(2), Some(1))
        );
        assert_eq!(e.comm.as_deref(), Some("cat"));
        assert_eq!(e.fields, vec![("a".into(), u64::MAX), ("b".into(), 2)]);
        assert_eq!(e.args, vec![1, u64::MAX]);
        assert_eq!(e.ret, Some((-5i64) as u64));
        assert_eq!((evs[1].line, evs[1].time_ns), (4, 3));
    }

    #[test]
    fn files_are_read_with_their_name_in_errors() {
        let dir = std::env::temp_dir().join(format!("stapc-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let good = dir.join("good.jsonl");
        std::fs::write(&good, "{\"time\": \"1ms\", \"probe\": \"p\"}\n").expect("write");
        assert_eq!(read_events_file(&good).map(|v| v.len()), Ok(1));
        let bad = dir.join("bad.jsonl");
        std::fs::write(&bad, "\n{\"time\": 1 \"probe\": \"p\"}\n").expect("write");
        assert_eq!(
            read_events_file(&bad),
            Err(format!(
                "{}:2:12: expected `,` or `}}`, found `\"`",
                bad.display()
            ))
        );
        let missing = dir.join("missing.jsonl");
        assert!(read_events_file(&missing)
            .unwrap_err()
            .starts_with(&format!("{}: ", missing.display())));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn time_units() {
        let t = |s: &str| parse_time(&Json::Str(s.into()));
        assert_eq!(t("5ms"), Ok(5_000_000));
        assert_eq!(t("2s"), Ok(2_000_000_000));
        assert_eq!(t("10 us"), Ok(10_000));
        assert_eq!(t("7ns"), Ok(7));
        assert_eq!(t(".5s"), Ok(500_000_000));
        assert!(t("5").unwrap_err().contains("needs a unit"));
        assert!(t("5min").unwrap_err().contains("unknown time unit `min`"));
        assert!(t("1.5ns").unwrap_err().contains("finer than a nanosecond"));
        assert!(t("99999999999999999999s")
            .unwrap_err()
            .contains("out of range"));
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            err("{\"time\": 1, \"probe\": \"p\"}\n{\"time\": 1, \"probe\": p}"),
            "2:22: unknown word `p` (strings need double quotes)"
        );
        assert_eq!(err("{\"time\": 1}"), "1:1: the event has no `probe`");
        assert_eq!(
            err("{\"time\": 1, \"probe\": \"p\", \"pid\": -1}"),
            "1:34: `pid` must be between 0 and 4294967295"
        );
        assert_eq!(
            err("{\"time\": 1, \"probe\": \"p\", \"x\": 1}"),
            "1:32: unknown key `x` (known: time, probe, pid, tid, uid, gid, comm, cpu, fields, args, return)"
        );
        assert_eq!(
            err("{\"time\": 1,"),
            "1:12: expected a key in double quotes, found the end of the line"
        );
        assert_eq!(
            err("{\"time\": 1} x"),
            "1:13: one JSON object per line: unexpected text after it"
        );
        assert_eq!(err("[1]"), "1:1: an event is a JSON object, not an array");
        assert_eq!(
            err("{\"time\": 01, \"probe\": \"p\"}"),
            "1:10: numbers may not start with 0"
        );
        assert_eq!(
            err("{\"time\": 1.5, \"probe\": \"p\"}"),
            "1:10: `time` 1.5 is not a whole number of nanoseconds"
        );
        assert_eq!(
            err("{\"time\": 1, \"time\": 2}"),
            "1:13: duplicate key `time`"
        );
        assert_eq!(err("{\"probe\": \"a\\q\"}"), "1:13: unknown escape `\\q`");
        assert_eq!(
            err("{\"probe\": \"abc"),
            "1:11: string not closed before the end of the line"
        );
        assert_eq!(
            err("{\"time\": 1, \"probe\": \"p\", \"args\": [1,2,3,4,5,6,7]}"),
            "1:35: `args` has 7 items; at most 6"
        );
        assert_eq!(
            err("{\"time\": 1, \"probe\": \"p\", \"fields\": {\"f\": 1e3}}"),
            "1:43: `fields.f`: 1e3 is not an integer that fits in 64 bits"
        );
        let deep = "[".repeat(100);
        assert!(err(&deep).contains("nested deeper than 64 levels"));
    }

    #[test]
    fn strings_with_escapes() {
        let e = parse_event(
            r#"{"time": 0, "probe": "a\"b\\c\u00e9\ud83d\ude00\n", "comm": "é"}"#,
            1,
        )
        .expect("parses");
        assert_eq!(e.probe, "a\"b\\cé😀\n");
        assert_eq!(e.comm.as_deref(), Some("é"));
    }

    #[test]
    fn arbitrary_lines_never_panic() {
        let pieces = [
            "{", "}", "[", "]", "\"", "\\", "u", "d83d", ":", ",", "1", "-", ".", "e", "time",
            "probe", " ", "é", "null", "true", "\"time\"", "\"5ms\"",
        ];
        let mut seed = 99u32;
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..(seed % 12) {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                s.push_str(pieces[(seed >> 16) as usize % pieces.len()]);
            }
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let _ = parse_events(&s);
        }
    }
}
