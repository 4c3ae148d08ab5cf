//! Rendering diagnostics: codespan-reporting for plain text (what tests
//! compare) and colour (a terminal), and hand-written JSON lines for tools
//! (`--message-format=json`).

use crate::diag::{Diagnostic, Severity};
use crate::span::SourceMap;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term;
use std::fmt::Write;
use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagFormat {
    Plain,
    Color,
    Json,
}

/// The `SourceMap` seen through codespan's `Files` trait.
struct Adapter<'a>(&'a SourceMap);

impl<'a> Files<'a> for Adapter<'a> {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, FilesError> {
        self.0
            .files()
            .get(id)
            .map(|f| f.name.as_str())
            .ok_or(FilesError::FileMissing)
    }

    fn source(&'a self, id: usize) -> Result<&'a str, FilesError> {
        self.0
            .files()
            .get(id)
            .map(|f| f.text.as_str())
            .ok_or(FilesError::FileMissing)
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, FilesError> {
        let f = self.0.files().get(id).ok_or(FilesError::FileMissing)?;
        let off = byte_index.min(f.text.len()) as u32;
        Ok(f.line_col(off).0 as usize - 1)
    }

    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, FilesError> {
        let f = self.0.files().get(id).ok_or(FilesError::FileMissing)?;
        let last = f.line_col(f.text.len() as u32).0 as usize - 1;
        if line_index > last {
            return Err(FilesError::LineTooLarge {
                given: line_index,
                max: last,
            });
        }
        // `line_text` borrows from `text`, so its address gives the offset.
        let lt = f.line_text(line_index as u32 + 1);
        let start = (lt.as_ptr() as usize)
            .wrapping_sub(f.text.as_ptr() as usize)
            .min(f.text.len());
        let end = f.text[start..]
            .find('\n')
            .map_or(f.text.len(), |i| start + i + 1);
        Ok(start..end)
    }
}

/// Clamp a span to its file and to character boundaries, so that a bad
/// span from any layer still renders.
fn clamp(sm: &SourceMap, file: usize, r: Range<usize>) -> Range<usize> {
    let Some(f) = sm.files().get(file) else {
        return 0..0;
    };
    let t = &f.text;
    let mut s = r.start.min(t.len());
    let mut e = r.end.min(t.len()).max(s);
    while !t.is_char_boundary(s) {
        s -= 1;
    }
    while !t.is_char_boundary(e) {
        e += 1;
    }
    s..e
}

fn clamp_span(sm: &SourceMap, span: crate::span::Span) -> crate::span::Span {
    let r = clamp(sm, span.file.0 as usize, span.range());
    crate::span::Span::new(span.file, r.start as u32, r.end as u32)
}

fn to_codespan(d: &Diagnostic, sm: &SourceMap) -> cs::Diagnostic<usize> {
    let sev = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    // The primary label first: codespan puts the location header there.
    let mut labels: Vec<cs::Label<usize>> = Vec::new();
    for l in d
        .labels
        .iter()
        .filter(|l| l.primary)
        .chain(d.labels.iter().filter(|l| !l.primary))
    {
        let file = l.span.file.0 as usize;
        if file >= sm.files().len() {
            continue;
        }
        let r = clamp(sm, file, l.span.range());
        let label = if l.primary {
            cs::Label::primary(file, r)
        } else {
            cs::Label::secondary(file, r)
        };
        labels.push(label.with_message(l.message.clone()));
    }
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    // Secondary places also get a `file:line:col` line, so that every place
    // a diagnostic involves can be found by text search (and by tests).
    for l in d.labels.iter().filter(|l| !l.primary) {
        if (l.span.file.0 as usize) < sm.files().len() {
            notes.push(format!(
                "note: {}: {}",
                sm.location(clamp_span(sm, l.span)),
                l.message
            ));
        }
    }
    if let Some(h) = &d.help {
        notes.push(format!("help: {h}"));
    }
    cs::Diagnostic::new(sev)
        .with_code(d.code.clone())
        .with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

pub fn render(diags: &[Diagnostic], sm: &SourceMap, format: DiagFormat) -> String {
    match format {
        DiagFormat::Json => diags.iter().map(|d| json(d, sm) + "\n").collect(),
        DiagFormat::Plain => {
            let config = term::Config {
                chars: term::Chars::ascii(),
                ..term::Config::default()
            };
            let files = Adapter(sm);
            let mut out = String::new();
            for d in diags {
                let cd = to_codespan(d, sm);
                if term::emit_to_string(&mut out, &config, &files, &cd).is_err() {
                    let _ = writeln!(out, "{}[{}]: {}", sev_name(d.severity), d.code, d.message);
                }
            }
            out
        }
        DiagFormat::Color => {
            let config = term::Config::default();
            let files = Adapter(sm);
            let mut buf = term::termcolor::Buffer::ansi();
            for d in diags {
                let cd = to_codespan(d, sm);
                if term::emit_to_write_style(&mut buf, &config, &files, &cd).is_err() {
                    return render(diags, sm, DiagFormat::Plain);
                }
            }
            String::from_utf8_lossy(buf.as_slice()).into_owned()
        }
    }
}

fn sev_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json(d: &Diagnostic, sm: &SourceMap) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "{{\"severity\":\"{}\",\"code\":{},\"message\":{}",
        sev_name(d.severity),
        json_string(&d.code),
        json_string(&d.message)
    );
    let loc = |span: crate::span::Span| -> Option<(String, u32, u32, u32, u32)> {
        let f = sm.files().get(span.file.0 as usize)?;
        let len = f.text.len() as u32;
        let (l, c) = f.line_col(span.start.min(len));
        let (el, ec) = f.line_col(span.end.min(len));
        Some((f.name.clone(), l, c, el, ec))
    };
    if let Some((file, l, c, _, _)) = d.primary_span().and_then(loc) {
        let _ = write!(
            o,
            ",\"file\":{},\"line\":{l},\"column\":{c}",
            json_string(&file)
        );
    }
    o.push_str(",\"labels\":[");
    let mut first = true;
    for lab in &d.labels {
        let Some((file, l, c, el, ec)) = loc(lab.span) else {
            continue;
        };
        if !first {
            o.push(',');
        }
        first = false;
        let _ = write!(
            o,
            "{{\"file\":{},\"line\":{l},\"column\":{c},\"end_line\":{el},\"end_column\":{ec},\"message\":{},\"primary\":{}}}",
            json_string(&file),
            json_string(&lab.message),
            lab.primary
        );
    }
    o.push_str("],\"notes\":[");
    o.push_str(
        &d.notes
            .iter()
            .map(|n| json_string(n))
            .collect::<Vec<_>>()
            .join(","),
    );
    o.push(']');
    match &d.help {
        Some(h) => {
            let _ = write!(o, ",\"help\":{}", json_string(h));
        }
        None => o.push_str(",\"help\":null"),
    }
    o.push('}');
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn sample() -> (SourceMap, Diagnostic) {
        let mut sm = SourceMap::new();
        let f = sm.add("t.stp", "probe begin {\n  x = \"a\\\"b\"\n}\n");
        let d = Diagnostic::error("E0032", "type mismatch")
            .with_primary(Span::new(f, 18, 25), "string here")
            .with_secondary(Span::new(f, 0, 5), "other \"place\"")
            .with_note("a note")
            .with_help("do this");
        (sm, d)
    }

    #[test]
    fn plain_has_location_code_message_and_help() {
        let (sm, d) = sample();
        let s = render(&[d], &sm, DiagFormat::Plain);
        assert!(s.contains("error[E0032]: type mismatch"), "{s}");
        assert!(s.contains("t.stp:2:5"), "{s}");
        assert!(s.contains("= help: do this"), "{s}");
        assert!(s.contains("= note: a note"), "{s}");
        assert!(!s.contains('\u{1b}'));
    }

    #[test]
    fn color_uses_ansi_escapes() {
        let (sm, d) = sample();
        assert!(render(&[d], &sm, DiagFormat::Color).contains('\u{1b}'));
    }

    #[test]
    fn json_is_one_escaped_object_per_line() {
        let (sm, d) = sample();
        let s = render(&[d.clone(), d], &sm, DiagFormat::Json);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("{\"severity\":\"error\",\"code\":\"E0032\""),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("\"line\":2,\"column\":5"));
        assert!(lines[0].contains("other \\\"place\\\""));
        assert!(lines[0].ends_with("\"help\":\"do this\"}"));
    }

    #[test]
    fn out_of_range_spans_do_not_panic() {
        let mut sm = SourceMap::new();
        let f = sm.add("é.stp", "é");
        let d = Diagnostic::error("E0001", "x").with_primary(Span::new(f, 1, 99), "y");
        let _ = render(std::slice::from_ref(&d), &sm, DiagFormat::Plain);
        let _ = render(&[d], &sm, DiagFormat::Json);
    }
}
