//! Output formatting: printf records into text exactly as C / SystemTap
//! print them (`%d %i %u %x %X %o %s %c %p %%`, flags `- 0 + space #`, width,
//! precision, `*`), `trace_printk` lines, and SystemTap's histogram layout
//! (`@hist_log`, `@hist_linear`) as pure functions from bucket counts to text.

use bpf::{ArgKind, Format};
use std::fmt;

/// A record that does not match its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub needed: usize,
    pub got: usize,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record has {} argument bytes, its format needs {}",
            self.got, self.needed
        )
    }
}

impl std::error::Error for FormatError {}

/// One printf argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg<'a> {
    Long(i64),
    /// The bytes before the first NUL.
    Str(&'a [u8]),
}

/// Where conversions take their arguments from.
trait Args {
    fn long(&mut self) -> i64;
    fn string(&mut self) -> Vec<u8>;
}

struct Slice<'a, 'b> {
    args: &'b [Arg<'a>],
    next: usize,
}

impl Args for Slice<'_, '_> {
    fn long(&mut self) -> i64 {
        let a = self.args.get(self.next);
        self.next += 1;
        match a {
            Some(Arg::Long(v)) => *v,
            _ => 0,
        }
    }
    fn string(&mut self) -> Vec<u8> {
        let a = self.args.get(self.next);
        self.next += 1;
        match a {
            Some(Arg::Str(s)) => s.to_vec(),
            Some(Arg::Long(v)) => v.to_string().into_bytes(),
            None => Vec::new(),
        }
    }
}

/// Split a record's argument bytes per the format's layout.
pub fn record_args<'a>(
    format: &Format,
    max_string_len: u32,
    mut bytes: &'a [u8],
) -> Result<Vec<Arg<'a>>, FormatError> {
    let needed: usize = format
        .args
        .iter()
        .map(|k| match k {
            ArgKind::Long => 8,
            ArgKind::Str => max_string_len as usize,
        })
        .sum();
    if bytes.len() < needed {
        return Err(FormatError {
            needed,
            got: bytes.len(),
        });
    }
    let mut out = Vec::with_capacity(format.args.len());
    for k in &format.args {
        match k {
            ArgKind::Long => {
                let (v, rest) = bytes.split_at(8);
                out.push(Arg::Long(i64::from_le_bytes([
                    v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                ])));
                bytes = rest;
            }
            ArgKind::Str => {
                let (v, rest) = bytes.split_at(max_string_len as usize);
                let n = v.iter().position(|&c| c == 0).unwrap_or(v.len());
                out.push(Arg::Str(&v[..n]));
                bytes = rest;
            }
        }
    }
    Ok(out)
}

/// Format a PRINTF record's argument bytes with its format.
pub fn format_record(
    format: &Format,
    max_string_len: u32,
    bytes: &[u8],
) -> Result<Vec<u8>, FormatError> {
    let args = record_args(format, max_string_len, bytes)?;
    Ok(sprintf(format.text.as_bytes(), &args))
}

/// C/SystemTap `sprintf`: every integer conversion takes a 64-bit value.
pub fn sprintf(fmt: &[u8], args: &[Arg]) -> Vec<u8> {
    let mut src = Slice { args, next: 0 };
    render(fmt, &mut src, false)
}

/// The kernel's `bpf_trace_printk`: up to three raw arguments; `%d`/`%u`/`%x`
/// without `l` are 32-bit; `%s` reads a string through `read_str`.
pub fn trace_printk(
    fmt: &[u8],
    args: &[u64; 3],
    read_str: impl Fn(u64) -> Option<Vec<u8>>,
) -> Vec<u8> {
    struct Raw<'a, F> {
        args: &'a [u64; 3],
        next: usize,
        read_str: F,
    }
    impl<F: Fn(u64) -> Option<Vec<u8>>> Args for Raw<'_, F> {
        fn long(&mut self) -> i64 {
            let v = self.args.get(self.next).copied().unwrap_or(0);
            self.next += 1;
            v as i64
        }
        fn string(&mut self) -> Vec<u8> {
            let v = self.long() as u64;
            (self.read_str)(v).unwrap_or_else(|| b"(efault)".to_vec())
        }
    }
    let mut src = Raw {
        args,
        next: 0,
        read_str,
    };
    render(fmt, &mut src, true)
}

#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: Option<usize>,
    prec: Option<usize>,
    /// Number of `l`s (trace_printk only cares).
    longs: u8,
}

fn pad(out: &mut Vec<u8>, n: usize, c: u8) {
    out.extend(std::iter::repeat_n(c, n));
}

/// Widths beyond this are clamped, so a hostile `%*d` cannot allocate gigabytes.
const MAX_WIDTH: usize = 4096;

fn render(fmt: &[u8], args: &mut dyn Args, c_ints: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(fmt.len() + 16);
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let mut sp = Spec::default();
        while let Some(&f) = fmt.get(i) {
            match f {
                b'-' => sp.left = true,
                b'0' => sp.zero = true,
                b'+' => sp.plus = true,
                b' ' => sp.space = true,
                b'#' => sp.alt = true,
                _ => break,
            }
            i += 1;
        }
        if fmt.get(i) == Some(&b'*') {
            let w = args.long();
            if w < 0 {
                sp.left = true;
            }
            sp.width = Some((w.unsigned_abs() as usize).min(MAX_WIDTH));
            i += 1;
        } else {
            let mut w = None;
            while let Some(d) = fmt.get(i).filter(|d| d.is_ascii_digit()) {
                w = Some((w.unwrap_or(0usize) * 10 + (d - b'0') as usize).min(MAX_WIDTH));
                i += 1;
            }
            sp.width = w;
        }
        if fmt.get(i) == Some(&b'.') {
            i += 1;
            if fmt.get(i) == Some(&b'*') {
                let p = args.long();
                sp.prec = (p >= 0).then_some((p as usize).min(MAX_WIDTH));
                i += 1;
            } else {
                let mut p = 0usize;
                while let Some(d) = fmt.get(i).filter(|d| d.is_ascii_digit()) {
                    p = (p * 10 + (d - b'0') as usize).min(MAX_WIDTH);
                    i += 1;
                }
                sp.prec = Some(p);
            }
        }
        while let Some(&m) = fmt
            .get(i)
            .filter(|m| matches!(m, b'l' | b'h' | b'L' | b'z' | b'j' | b't' | b'q'))
        {
            if m == b'l' {
                sp.longs += 1;
            }
            i += 1;
        }
        let Some(&conv) = fmt.get(i) else {
            // A dangling `%…` at the end: print it as written.
            out.extend_from_slice(&fmt[start..]);
            break;
        };
        i += 1;
        match conv {
            b'%' => out.push(b'%'),
            b'd' | b'i' => {
                let mut v = args.long();
                if c_ints && sp.longs == 0 {
                    v = v as i32 as i64;
                }
                let sign: &[u8] = if v < 0 {
                    b"-"
                } else if sp.plus {
                    b"+"
                } else if sp.space {
                    b" "
                } else {
                    b""
                };
                number(&mut out, &sp, sign, v.unsigned_abs(), 10, false);
            }
            b'u' | b'x' | b'X' | b'o' => {
                let mut v = args.long() as u64;
                if c_ints && sp.longs == 0 {
                    v = v as u32 as u64;
                }
                let (base, upper) = match conv {
                    b'u' => (10, false),
                    b'x' => (16, false),
                    b'X' => (16, true),
                    _ => (8, false),
                };
                let prefix: &[u8] = match conv {
                    b'x' if sp.alt && v != 0 => b"0x",
                    b'X' if sp.alt && v != 0 => b"0X",
                    _ => b"",
                };
                number(&mut out, &sp, prefix, v, base, upper);
            }
            b'p' => {
                let v = args.long() as u64;
                if sp.width.is_none() {
                    sp.width = Some(18);
                    sp.zero = true;
                }
                number(&mut out, &sp, b"0x", v, 16, false);
            }
            b'c' => {
                let v = args.long() as u8;
                field(&mut out, &sp, &[v]);
            }
            b's' => {
                let s = args.string();
                let s = match sp.prec {
                    Some(p) if p < s.len() => &s[..p],
                    _ => &s[..],
                };
                field(&mut out, &sp, s);
            }
            _ => out.extend_from_slice(&fmt[start..i]),
        }
    }
    out
}

/// Pad `body` to the spec's width with spaces.
fn field(out: &mut Vec<u8>, sp: &Spec, body: &[u8]) {
    let fill = sp.width.unwrap_or(0).saturating_sub(body.len());
    if !sp.left {
        pad(out, fill, b' ');
    }
    out.extend_from_slice(body);
    if sp.left {
        pad(out, fill, b' ');
    }
}

/// An integer conversion: prefix (sign or 0x), precision zeros, digits,
/// padded to the width with spaces or (flag `0`) zeros after the prefix.
fn number(out: &mut Vec<u8>, sp: &Spec, prefix: &[u8], v: u64, base: u64, upper: bool) {
    let mut digits = Vec::with_capacity(24);
    let mut x = v;
    while x > 0 {
        let d = (x % base) as u8;
        digits.push(match d {
            0..=9 => b'0' + d,
            _ if upper => b'A' + d - 10,
            _ => b'a' + d - 10,
        });
        x /= base;
    }
    if v == 0 && sp.prec != Some(0) {
        digits.push(b'0');
    }
    if let Some(p) = sp.prec {
        while digits.len() < p {
            digits.push(b'0');
        }
    }
    if base == 8 && sp.alt && digits.last() != Some(&b'0') {
        digits.push(b'0');
    }
    digits.reverse();
    let len = prefix.len() + digits.len();
    let fill = sp.width.unwrap_or(0).saturating_sub(len);
    if sp.left {
        out.extend_from_slice(prefix);
        out.extend_from_slice(&digits);
        pad(out, fill, b' ');
    } else if sp.zero && sp.prec.is_none() {
        out.extend_from_slice(prefix);
        pad(out, fill, b'0');
        out.extend_from_slice(&digits);
    } else {
        pad(out, fill, b' ');
        out.extend_from_slice(prefix);
        out.extend_from_slice(&digits);
    }
}

// ---- histograms ----

/// Buckets of a log histogram: index `LOG_ZERO` holds 0, `LOG_ZERO + k`
/// holds values in [2^(k-1), 2^k), `LOG_ZERO - k` their negatives.
pub const LOG_BUCKETS: usize = 129;
pub const LOG_ZERO: usize = 64;
/// Width of the bar column.
const HIST_WIDTH: u64 = 50;

/// The log-histogram bucket of `v`.
pub fn log_bucket(v: i64) -> usize {
    if v == 0 {
        return LOG_ZERO;
    }
    let k = 64 - v.unsigned_abs().leading_zeros() as usize;
    if v > 0 {
        LOG_ZERO + k
    } else {
        LOG_ZERO - k
    }
}

/// The value a log-histogram bucket is labelled with.
pub fn log_bucket_value(i: usize) -> i128 {
    match i.cmp(&LOG_ZERO) {
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1i128 << (i - LOG_ZERO - 1).min(100),
        std::cmp::Ordering::Less => -(1i128 << (LOG_ZERO - i - 1).min(100)),
    }
}

/// Number of buckets of `@hist_linear(s, start, stop, interval)`, counting
/// the underflow (index 0) and overflow (last index) buckets; `None` when
/// the parameters are invalid (interval ≤ 0 or stop < start).
pub fn linear_buckets(start: i64, stop: i64, interval: i64) -> Option<usize> {
    if interval <= 0 || stop < start {
        return None;
    }
    let n = ((stop as i128 - start as i128) / interval as i128) as usize;
    n.checked_add(3)
}

/// The linear-histogram bucket of `v` (0 = underflow, last = overflow).
pub fn linear_bucket(v: i64, start: i64, stop: i64, interval: i64) -> usize {
    let Some(n) = linear_buckets(start, stop, interval) else {
        return 0;
    };
    if v < start {
        return 0;
    }
    let k = ((v as i128 - start as i128) / interval as i128) as usize;
    if k > n - 3 {
        n - 1
    } else {
        k + 1
    }
}

/// `print(@hist_log(s))`: `counts` has `LOG_BUCKETS` entries (shorter is
/// padded with zeros).
pub fn hist_log(counts: &[u64]) -> String {
    let mut c = counts.to_vec();
    c.resize(LOG_BUCKETS, 0);
    let no_negatives = c[..LOG_ZERO].iter().all(|&n| n == 0);
    let floor = if no_negatives { LOG_ZERO } else { 0 };
    render_hist(&c, floor, |i| log_bucket_value(i).to_string(), false)
}

/// `print(@hist_linear(s, start, stop, interval))`: `counts` has
/// `linear_buckets(start, stop, interval)` entries, underflow first.
pub fn hist_linear(counts: &[u64], start: i64, interval: i64) -> String {
    let last = counts.len().saturating_sub(1);
    let label = |i: usize| {
        if i == 0 {
            format!("<{start}")
        } else if i == last {
            format!(">{}", start as i128 + (i as i128 - 2) * interval as i128)
        } else {
            (start as i128 + (i as i128 - 1) * interval as i128).to_string()
        }
    };
    render_hist(counts, 0, label, true)
}

fn render_hist(c: &[u64], floor: usize, label: impl Fn(usize) -> String, linear: bool) -> String {
    let mut out = String::new();
    let first = c.iter().position(|&n| n > 0);
    let last = c.iter().rposition(|&n| n > 0);
    let (Some(first), Some(last)) = (first, last) else {
        out.push_str("value |");
        out.push_str(&"-".repeat(HIST_WIDTH as usize));
        out.push_str(" count\n\n");
        return out;
    };
    // Two empty rows of margin on each side of the data.
    let mut lo = first.saturating_sub(2).max(floor.min(first));
    let mut hi = (last + 2).min(c.len() - 1);
    if linear {
        // The underflow and overflow rows only when they hold something.
        if lo == 0 && c[0] == 0 {
            lo = 1;
        }
        if hi == c.len() - 1 && c[hi] == 0 {
            hi -= 1;
        }
    }
    let max = c[lo..=hi].iter().copied().max().unwrap_or(0);
    let scale = if max <= HIST_WIDTH {
        1
    } else {
        max.div_ceil(HIST_WIDTH)
    };
    let count_width = max.to_string().len();
    let labels: Vec<String> = (lo..=hi).map(&label).collect();
    let width = labels.iter().map(|l| l.len()).max().unwrap_or(0).max(5);
    out.push_str(&" ".repeat(width - 5));
    out.push_str("value |");
    out.push_str(&"-".repeat(HIST_WIDTH as usize));
    out.push_str(" count\n");
    let mut eliding = false;
    for i in lo..=hi {
        // A row is elided when it and every row within two of it (inside the
        // printed range) are empty; a run of elided rows prints as one `~`.
        let near = i.saturating_sub(2).max(lo)..=(i + 2).min(hi);
        if c[near].iter().all(|&n| n == 0) {
            eliding = true;
            continue;
        }
        if eliding {
            out.push_str(&" ".repeat(width));
            out.push_str(" ~\n");
            eliding = false;
        }
        let n = c[i];
        let bars = n / scale;
        let l = &labels[i - lo];
        out.push_str(&" ".repeat(width - l.len()));
        out.push_str(l);
        out.push_str(" |");
        out.push_str(&"@".repeat(bars as usize));
        let gap = (HIST_WIDTH - bars) as usize + 1 + count_width - n.to_string().len();
        out.push_str(&" ".repeat(gap));
        out.push_str(&n.to_string());
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Arg::{Long as L, Str as S};

    fn p(fmt: &str, args: &[Arg]) -> String {
        String::from_utf8(sprintf(fmt.as_bytes(), args)).unwrap()
    }

    #[test]
    fn printf_formats_conformance() {
        // Every line of conformance/printf_formats.expected.
        assert_eq!(
            p(
                "[%d] [%i] [%u] [%x] [%X] [%o]\n",
                &[L(-42), L(42), L(42), L(255), L(255), L(8)]
            ),
            "[-42] [42] [42] [ff] [FF] [10]\n"
        );
        assert_eq!(
            p(
                "[%5d] [%-5d] [%05d] [%+d] [% d]\n",
                &[L(42), L(42), L(42), L(42), L(42)]
            ),
            "[   42] [42   ] [00042] [+42] [ 42]\n"
        );
        assert_eq!(
            p("[%#x] [%#o] [%c] [%%]\n", &[L(255), L(8), L(65)]),
            "[0xff] [010] [A] [%]\n"
        );
        assert_eq!(
            p(
                "[%s] [%10s] [%-10s] [%.3s]\n",
                &[S(b"abc"), S(b"abc"), S(b"abc"), S(b"abcdef")]
            ),
            "[abc] [       abc] [abc       ] [abc]\n"
        );
        assert_eq!(
            p("[%*d] [%-*d]\n", &[L(6), L(7), L(6), L(7)]),
            "[     7] [7     ]\n"
        );
        assert_eq!(p("[%u]\n", &[L(-1)]), "[18446744073709551615]\n");
        assert_eq!(p("%s=%d", &[S(b"k"), L(3)]), "k=3");
    }

    #[test]
    fn printf_edge_cases() {
        assert_eq!(
            p(
                "%.0d|%.3d|%5.3d|%-+5d|%05.1d",
                &[L(0), L(7), L(-7), L(3), L(4)]
            ),
            "|007| -007|+3   |    4"
        );
        assert_eq!(
            p("%#X %#x %#o %o", &[L(255), L(0), L(0), L(0)]),
            "0XFF 0 0 0"
        );
        assert_eq!(p("%p", &[L(0x1234)]), "0x0000000000001234");
        assert_eq!(p("%ld %lld %lu", &[L(-5), L(6), L(7)]), "-5 6 7");
        assert_eq!(p("%d %s", &[]), "0 ");
        assert_eq!(p("%d", &[L(i64::MIN)]), "-9223372036854775808");
        assert_eq!(p("%-3c|%3c", &[L(66), L(67)]), "B  |  C");
        assert_eq!(p("100%", &[]), "100%");
        assert_eq!(p("%k%y", &[]), "%k%y");
        assert_eq!(p("%*d", &[L(-4), L(1)]), "1   ");
        assert_eq!(p("%.*s", &[L(2), S(b"hello")]), "he");
    }

    #[test]
    fn records_are_split_per_format() {
        let f = Format {
            text: "%s:%d\n".into(),
            args: vec![ArgKind::Str, ArgKind::Long],
        };
        let mut rec = b"hi\0\0\0\0\0\0".to_vec();
        rec.extend_from_slice(&(-9i64).to_le_bytes());
        assert_eq!(format_record(&f, 8, &rec).unwrap(), b"hi:-9\n");
        assert_eq!(
            format_record(&f, 8, &rec[..10]),
            Err(FormatError {
                needed: 16,
                got: 10
            })
        );
    }

    #[test]
    fn trace_printk_widths() {
        let out = trace_printk(
            b"%d %ld %u %s",
            &[u32::MAX as u64, u64::MAX, u64::MAX],
            |_| None,
        );
        assert_eq!(out, b"-1 -1 4294967295 (efault)");
    }

    #[test]
    fn hist_matches_conformance() {
        let expected = "value |-------------------------------------------------- count
    0 |                                                   0
    1 |@                                                  1
    2 |@@                                                 2
    4 |@@                                                 2
    8 |@@                                                 2
   16 |                                                   0
   32 |                                                   0
   64 |@                                                  1
  128 |                                                   0
  256 |                                                   0
  512 |@@                                                 2
 1024 |                                                   0
 2048 |                                                   0

value |-------------------------------------------------- count
   <0 |@                                                  1
    0 |@@                                                 2
   10 |@@@                                                3
   20 |@                                                  1
   30 |                                                   0
   40 |                                                   0
   50 |@                                                  1
  >50 |@                                                  1

";
        let mut log = vec![0u64; LOG_BUCKETS];
        for v in [1, 2, 3, 4, 5, 8, 9, 100, 1000, 1000] {
            log[log_bucket(v)] += 1;
        }
        let n = linear_buckets(0, 50, 10).unwrap();
        let mut lin = vec![0u64; n];
        for v in [0, 5, 12, 15, 18, 25, 55, 99, -3] {
            lin[linear_bucket(v, 0, 50, 10)] += 1;
        }
        let got = hist_log(&log) + &hist_linear(&lin, 0, 10);
        assert_eq!(got, expected);
    }

    #[test]
    fn hist_elides_and_scales() {
        let mut log = vec![0u64; LOG_BUCKETS];
        log[log_bucket(1)] = 120;
        log[log_bucket(1 << 20)] = 3;
        let text = hist_log(&log);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "  value |-------------------------------------------------- count"
        );
        // scale = ceil(120/50) = 3: 40 bars.
        assert_eq!(
            lines[2],
            format!("      1 |{}{}120", "@".repeat(40), " ".repeat(11))
        );
        assert!(lines.contains(&"        ~"));
        assert!(text.ends_with("\n\n"));
        // Negative values: rows run below the zero bucket.
        let mut neg = vec![0u64; LOG_BUCKETS];
        neg[log_bucket(-5)] = 1;
        let t = hist_log(&neg);
        assert!(t.contains("\n  -16 |") && t.contains("\n   -4 |@"), "{t}");
        assert_eq!(
            hist_log(&[]),
            format!("value |{} count\n\n", "-".repeat(50))
        );
        assert_eq!(log_bucket(i64::MIN), 0);
        assert_eq!(log_bucket(i64::MAX), 127);
        assert_eq!(linear_buckets(0, 10, 0), None);
    }

    proptest::proptest! {
        #[test]
        fn any_format_and_args_never_panic(
            fmt in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            longs in proptest::collection::vec(proptest::prelude::any::<i64>(), 0..6),
        ) {
            let args: Vec<Arg> = longs.iter().map(|&v| if v % 3 == 0 { S(b"str") } else { L(v) }).collect();
            let _ = sprintf(&fmt, &args);
            let _ = trace_printk(&fmt, &[1, 2, 3], |_| Some(b"x".to_vec()));
        }

        #[test]
        fn any_histogram_never_panics(
            counts in proptest::collection::vec(0u64..5000, 0..140),
            start in -1000i64..1000,
            interval in 1i64..100,
        ) {
            let text = hist_log(&counts);
            proptest::prop_assert!(text.ends_with("\n\n"));
            let lin = hist_linear(&counts, start, interval);
            proptest::prop_assert!(lin.starts_with(' ') || lin.starts_with('v'));
        }
    }
}
