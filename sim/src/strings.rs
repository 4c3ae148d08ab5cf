//! SystemTap's string built-ins as pure functions on byte strings (without
//! their NUL), for the `stapc_*` string helpers userspace programs call:
//! `substr`, `isinstr`, `strtol`, `str_replace`, `text_str`.

/// `substr(s, start, len)`: `len` bytes from 0-based `start`, fewer at the
/// end of `s`; empty when `start` is negative or past the end, or `len <= 0`.
pub fn substr(s: &[u8], start: i64, len: i64) -> Vec<u8> {
    if start < 0 || len <= 0 || start as u64 >= s.len() as u64 {
        return Vec::new();
    }
    let start = start as usize;
    let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
    s[start..end.min(s.len())].to_vec()
}

/// `isinstr(s, sub)`: whether `sub` occurs in `s` (the empty string always does).
pub fn isinstr(s: &[u8], sub: &[u8]) -> bool {
    sub.is_empty() || s.windows(sub.len()).any(|w| w == sub)
}

/// `strtol(s, base)` like the kernel's `simple_strtol`: an optional `-`,
/// then digits of `base` up to the first byte that is not one; base 0 takes
/// the base from the prefix (`0x` hex, `0` octal, else decimal) and base 16
/// skips a `0x`. No digits gives 0; overflow wraps. `base` is 0 or 2..=36
/// (checked by the program); any other is treated as 10.
pub fn strtol(s: &[u8], base: i64) -> i64 {
    let (neg, mut rest) = match s.split_first() {
        Some((b'-', r)) => (true, r),
        _ => (false, s),
    };
    let has_hex_prefix = |r: &[u8]| {
        r.len() >= 3 && r[0] == b'0' && (r[1] | 0x20) == b'x' && r[2].is_ascii_hexdigit()
    };
    let base: u32 = match base {
        0 => {
            if has_hex_prefix(rest) {
                rest = &rest[2..];
                16
            } else if rest.first() == Some(&b'0') {
                8
            } else {
                10
            }
        }
        16 => {
            if has_hex_prefix(rest) {
                rest = &rest[2..];
            }
            16
        }
        b @ 2..=36 => b as u32,
        _ => 10,
    };
    let mut v: u64 = 0;
    for &c in rest {
        let Some(d) = (c as char).to_digit(36).filter(|&d| d < base) else {
            break;
        };
        v = v.wrapping_mul(u64::from(base)).wrapping_add(u64::from(d));
    }
    if neg {
        (v as i64).wrapping_neg()
    } else {
        v as i64
    }
}

/// `str_replace(s, search, replace)`: every non-overlapping occurrence of
/// `search`, left to right, replaced; `s` unchanged when `search` is empty.
pub fn str_replace(s: &[u8], search: &[u8], replace: &[u8]) -> Vec<u8> {
    if search.is_empty() {
        return s.to_vec();
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(search) {
            out.extend_from_slice(replace);
            i += search.len();
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// `text_str(s)`: C escapes for control characters, quotes and backslash,
/// `\ooo` octal for other unprintable bytes; at most `max` bytes, never
/// cutting an escape in half.
pub fn text_str(s: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        let esc: Vec<u8> = match c {
            b'\n' => b"\\n".to_vec(),
            b'\t' => b"\\t".to_vec(),
            b'\r' => b"\\r".to_vec(),
            0x0b => b"\\v".to_vec(),
            0x08 => b"\\b".to_vec(),
            0x0c => b"\\f".to_vec(),
            0x07 => b"\\a".to_vec(),
            b'"' => b"\\\"".to_vec(),
            b'\'' => b"\\'".to_vec(),
            b'\\' => b"\\\\".to_vec(),
            0x20..=0x7e => vec![c],
            _ => format!("\\{c:03o}").into_bytes(),
        };
        if out.len() + esc.len() > max {
            break;
        }
        out.extend_from_slice(&esc);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substr_is_zero_based_and_clamped() {
        assert_eq!(substr(b"foobar!", 1, 3), b"oob");
        assert_eq!(substr(b"foobar!", 5, 100), b"r!");
        assert_eq!(substr(b"abc", 3, 1), b"");
        assert_eq!(substr(b"abc", -1, 2), b"");
        assert_eq!(substr(b"abc", 0, 0), b"");
        assert_eq!(substr(b"abc", 1, i64::MAX), b"bc");
    }

    #[test]
    fn isinstr_finds_substrings() {
        assert!(isinstr(b"foobar!", b"oba"));
        assert!(!isinstr(b"foobar!", b"zz"));
        assert!(isinstr(b"x", b""));
        assert!(!isinstr(b"", b"x"));
    }

    #[test]
    fn strtol_follows_simple_strtol() {
        assert_eq!(strtol(b"ff", 16), 255);
        assert_eq!(strtol(b"0xff", 16), 255);
        assert_eq!(strtol(b"-12", 10), -12);
        assert_eq!(strtol(b"0x1A", 0), 26);
        assert_eq!(strtol(b"017", 0), 15);
        assert_eq!(strtol(b"42abc", 10), 42);
        assert_eq!(strtol(b"", 10), 0);
        assert_eq!(strtol(b"zz", 36), 35 * 36 + 35);
        assert_eq!(strtol(b"19", 8), 1);
    }

    #[test]
    fn str_replace_replaces_every_occurrence() {
        assert_eq!(str_replace(b"a-b-c", b"-", b"+"), b"a+b+c");
        assert_eq!(str_replace(b"aaa", b"aa", b"b"), b"ba");
        assert_eq!(str_replace(b"abc", b"", b"x"), b"abc");
        assert_eq!(str_replace(b"abc", b"b", b""), b"ac");
    }

    #[test]
    fn text_str_escapes() {
        assert_eq!(text_str(b"a\nb\"\\", 100), b"a\\nb\\\"\\\\");
        assert_eq!(text_str(b"\x01z", 100), b"\\001z");
        assert_eq!(text_str(b"ab\n", 3), b"ab");
    }
}
