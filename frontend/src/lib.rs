//! stapc frontend: SystemTap script text → tokens → AST → typed, resolved
//! `Script`. Also the one `Diagnostic` type every layer reports errors with.
//!
//! The driver calls [`parse`], [`print_ast`] (`-p1`), [`resolve`],
//! [`print_script`] (`-p2`) and [`render`]. Diagnostic codes are listed in
//! [`codes`].
//!
//! With `-I DIR` the driver first adds the tapset's `.stpm` macro files to
//! the [`SourceMap`] with [`load_tapset_macros`] and parses with
//! [`parse_with_library`], so a macro's tokens keep their own file for
//! diagnostics. The parser accepts the whole of SystemTap's own tapset
//! library (tests/tapset.rs); constructs stapc cannot compile (target
//! expressions such as `@cast`, `&`, `$p$`, embedded C, aliases, wrapping
//! arrays, slices) parse and print back with `-p1` and are rejected by
//! [`resolve`] with "not supported by stapc: …" at the construct.
#![forbid(unsafe_code)]

pub mod ast;
pub mod codes;
pub mod diag;
pub mod lexer;
pub mod parser;
pub mod points;
pub mod preprocess;
pub mod print;
pub mod render;
pub mod script;
pub mod sema;
pub mod span;

pub use diag::{Diagnostic, Label, Severity};
pub use render::DiagFormat;
pub use script::Script;
pub use span::{FileId, SourceMap, Span};
use std::path::{Path, PathBuf};

/// What the frontend needs to know about the compilation target and run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// For `kernel_v`/`kernel_vr` in preprocessor conditionals.
    pub kernel_version: (u32, u32),
    /// For `arch` in preprocessor conditionals.
    pub arch: String,
    /// `$1`/`@1`… values.
    pub script_args: Vec<String>,
    /// `-I DIR`: extra tapset directories. Their `.stpm` macro files
    /// (recursively) are read by [`load_tapset_macros`] and their macros are
    /// available to the script, as in SystemTap.
    pub tapset_dirs: Vec<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            kernel_version: (6, 1),
            arch: "x86_64".to_string(),
            script_args: Vec::new(),
            tapset_dirs: Vec::new(),
        }
    }
}

/// Lex, preprocess and parse one file of `sm`. The AST is returned even when
/// there are errors (it holds whatever parsed).
pub fn parse(sm: &SourceMap, file: FileId, opts: &Options) -> (ast::Ast, Vec<Diagnostic>) {
    parse_with_library(sm, file, &[], opts)
}

/// [`parse`] with the macros of the macro files `library` (files of `sm`,
/// usually from [`load_tapset_macros`]) defined before the script.
pub fn parse_with_library(
    sm: &SourceMap,
    file: FileId,
    library: &[FileId],
    opts: &Options,
) -> (ast::Ast, Vec<Diagnostic>) {
    let text = &sm.file(file).text;
    let mut diags = Vec::new();
    let mut lib_toks = Vec::with_capacity(library.len());
    for &lib in library {
        let (toks, d) = lexer::lex(&sm.file(lib).text, lib);
        diags.extend(d);
        lib_toks.push(toks);
    }
    let (toks, d) = lexer::lex(text, file);
    diags.extend(d);
    let (toks, pdiags) = preprocess::preprocess_with_library(&lib_toks, toks, opts);
    diags.extend(pdiags);
    let (ast, perrs) = parser::parse_tokens(toks, file, text.len() as u32);
    diags.extend(perrs);
    // Report in source order, whichever stage found the problem.
    diags.sort_by_key(|d| d.primary_span().map(|s| (s.file, s.start)));
    (ast, diags)
}

/// A tapset directory could not be read.
#[derive(Debug)]
pub struct TapsetError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl std::fmt::Display for TapsetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot read tapset `{}`: {}",
            self.path.display(),
            self.error
        )
    }
}

impl std::error::Error for TapsetError {}

/// Add every `.stpm` macro file under `dirs` (recursively; each directory's
/// files in name order, directories in the order given) to `sm` and return
/// their ids, for [`parse_with_library`].
pub fn load_tapset_macros(
    sm: &mut SourceMap,
    dirs: &[PathBuf],
) -> Result<Vec<FileId>, TapsetError> {
    let mut paths = Vec::new();
    for d in dirs {
        collect_stpm(d, &mut paths, 0)?;
    }
    let mut ids = Vec::with_capacity(paths.len());
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|error| TapsetError {
            path: p.clone(),
            error,
        })?;
        ids.push(sm.add(p.display().to_string(), text));
    }
    Ok(ids)
}

/// Deeper than this is a symlink loop, not a tapset.
const MAX_TAPSET_DEPTH: u32 = 16;

fn collect_stpm(dir: &Path, out: &mut Vec<PathBuf>, depth: u32) -> Result<(), TapsetError> {
    let err = |error| TapsetError {
        path: dir.to_path_buf(),
        error,
    };
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir).map_err(err)? {
        entries.push(e.map_err(err)?.path());
    }
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if depth < MAX_TAPSET_DEPTH {
                collect_stpm(&p, out, depth + 1)?;
            }
        } else if p.extension().is_some_and(|e| e == "stpm") {
            out.push(p);
        }
    }
    Ok(())
}

/// `-p1`: the AST as a script that parses back to the same AST.
pub fn print_ast(ast: &ast::Ast) -> String {
    print::print_ast(ast)
}

/// Name resolution, type inference and checks. `Some` only without errors;
/// warnings are returned either way.
pub fn resolve(ast: &ast::Ast, opts: &Options) -> (Option<Script>, Vec<Diagnostic>) {
    sema::resolve(ast, opts)
}

/// `-p2`: globals, functions and probes with their types and points.
pub fn print_script(script: &Script) -> String {
    print::print_script(script)
}

/// Render diagnostics as plain text (tests), colour (a terminal) or JSON lines.
pub fn render(diags: &[Diagnostic], sm: &SourceMap, format: DiagFormat) -> String {
    render::render(diags, sm, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, unique to this test run.
    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("stapc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub")).expect("temp dir");
        d
    }

    #[test]
    fn tapset_macros_load_recursively_with_their_own_files() {
        let d = temp_dir("tapset");
        std::fs::write(d.join("a.stpm"), "@define twice(x) %( (@x * 2) %)\n").expect("write");
        std::fs::write(d.join("sub/b.stpm"), "@define bad %( ) %)\n").expect("write");
        std::fs::write(d.join("sub/ignored.stp"), "@define no %( 0 %)\n").expect("write");
        let mut sm = SourceMap::new();
        let script = sm.add("t.stp", "probe begin { x = @twice(3); y = @bad }");
        let lib = load_tapset_macros(&mut sm, std::slice::from_ref(&d)).expect("load");
        assert_eq!(lib.len(), 2, "only .stpm files are macro files");
        assert!(sm.file(lib[1]).name.ends_with("b.stpm"));
        let (ast, diags) = parse_with_library(&sm, script, &lib, &Options::default());
        // The error is in the macro body, so it points into b.stpm.
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].primary_span().map(|s| s.file), Some(lib[1]));
        assert!(print_ast(&ast).contains("x = 3 * 2"), "{}", print_ast(&ast));
        let missing = load_tapset_macros(&mut sm, &[d.join("nope")]);
        assert!(missing.is_err_and(|e| e.to_string().contains("nope")));
        let _ = std::fs::remove_dir_all(&d);
    }
}
