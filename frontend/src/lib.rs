//! stapc frontend: SystemTap script text → tokens → AST → typed, resolved
//! `Script`. Also the one `Diagnostic` type every layer reports errors with.
//!
//! The driver calls [`parse`], [`print_ast`] (`-p1`), [`resolve`],
//! [`print_script`] (`-p2`) and [`render`]. Diagnostic codes are listed in
//! [`codes`].
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

/// What the frontend needs to know about the compilation target and run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// For `kernel_v`/`kernel_vr` in preprocessor conditionals.
    pub kernel_version: (u32, u32),
    /// For `arch` in preprocessor conditionals.
    pub arch: String,
    /// `$1`/`@1`… values.
    pub script_args: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            kernel_version: (6, 1),
            arch: "x86_64".to_string(),
            script_args: Vec::new(),
        }
    }
}

/// Lex, preprocess and parse one file of `sm`. The AST is returned even when
/// there are errors (it holds whatever parsed).
pub fn parse(sm: &SourceMap, file: FileId, opts: &Options) -> (ast::Ast, Vec<Diagnostic>) {
    let text = &sm.file(file).text;
    let (toks, mut diags) = lexer::lex(text, file);
    let (toks, pdiags) = preprocess::preprocess(toks, opts);
    diags.extend(pdiags);
    let (ast, perrs) = parser::parse_tokens(toks, file, text.len() as u32);
    diags.extend(perrs);
    // Report in source order, whichever stage found the problem.
    diags.sort_by_key(|d| d.primary_span().map(|s| (s.file, s.start)));
    (ast, diags)
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
