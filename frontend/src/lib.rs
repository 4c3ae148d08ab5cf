//! stapc frontend: SystemTap script text → tokens → AST → typed, resolved
//! `Script`. Also the one `Diagnostic` type every layer reports errors with.
#![forbid(unsafe_code)]

pub mod diag;
pub mod script;
pub mod span;

pub use diag::{Diagnostic, Label, Severity};
pub use script::Script;
pub use span::{FileId, SourceMap, Span};
