//! The backend's errors as data, and their conversion to `Diagnostic`s.

use std::fmt;

use stapc_frontend::{Diagnostic, Span};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendError {
    /// The IR handed to the backend breaks one of its invariants.
    MalformedIr { func: String, what: String },
    /// Spill slots plus the map key need more than the BPF stack.
    StackOverflow {
        func: String,
        bytes: u32,
        limit: u32,
    },
    /// A jump does not fit the 16-bit offset.
    BranchOutOfRange { func: String, insn: usize },
    /// A kernel program exceeds the target's instruction limit.
    TooManyInsns {
        func: String,
        insns: usize,
        limit: u32,
        span: Option<Span>,
    },
    /// A memory offset cannot be encoded.
    OffsetTooLarge { func: String, offset: u64 },
    /// The allocator could not find a register (a backend bug).
    Regalloc { func: String, what: String },
    /// The allocation checker rejected an allocation (a backend bug).
    Checker { func: String, what: String },
    // ---- arrays ----
    /// An array key (plus an update's value) too large for the stack, where
    /// map helpers before Linux 4.18 need it.
    ArrayKeyTooLarge {
        func: String,
        bytes: u32,
        limit: u32,
    },
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::MalformedIr { func, what } => {
                write!(f, "malformed IR in `{func}`: {what}")
            }
            BackendError::ArrayKeyTooLarge { func, bytes, limit } => write!(
                f,
                "`{func}` passes {bytes} bytes of array key and value to the map helpers, \
                 more than the {limit} bytes of stack it can spare for them"
            ),
            BackendError::StackOverflow { func, bytes, limit } => write!(
                f,
                "`{func}` needs {bytes} bytes of BPF stack, more than the {limit} the kernel allows"
            ),
            BackendError::BranchOutOfRange { func, insn } => {
                write!(
                    f,
                    "jump at instruction {insn} of `{func}` is out of the 16-bit range"
                )
            }
            BackendError::TooManyInsns {
                func, insns, limit, ..
            } => write!(
                f,
                "`{func}` compiles to {insns} BPF instructions, more than the limit of {limit}"
            ),
            BackendError::OffsetTooLarge { func, offset } => {
                write!(f, "memory offset {offset} in `{func}` cannot be encoded")
            }
            BackendError::Regalloc { func, what } => {
                write!(f, "register allocation failed for `{func}`: {what}")
            }
            BackendError::Checker { func, what } => {
                write!(f, "register allocation of `{func}` is wrong: {what}")
            }
        }
    }
}

impl std::error::Error for BackendError {}

impl BackendError {
    pub fn code(&self) -> &'static str {
        match self {
            BackendError::MalformedIr { .. } => "B0001",
            BackendError::StackOverflow { .. } => "B0002",
            BackendError::ArrayKeyTooLarge { .. } => "B0008",
            BackendError::BranchOutOfRange { .. } => "B0003",
            BackendError::TooManyInsns { .. } => "B0004",
            BackendError::OffsetTooLarge { .. } => "B0005",
            BackendError::Regalloc { .. } => "B0006",
            BackendError::Checker { .. } => "B0007",
        }
    }

    pub fn to_diagnostic(&self) -> Diagnostic {
        self.to_diagnostic_at(None)
    }

    /// The diagnostic, pointing at `probe` (the handler's first statement)
    /// when the error has no better place, with advice where there is some.
    pub fn to_diagnostic_at(&self, probe: Option<Span>) -> Diagnostic {
        let mut d = Diagnostic::error(self.code(), self.to_string());
        let span = match self {
            BackendError::TooManyInsns { span: Some(s), .. } => Some(*s),
            _ => probe,
        };
        if let Some(span) = span {
            d = d.with_primary(span, "in this probe");
        }
        match self {
            BackendError::TooManyInsns { .. } => {
                d.with_help("simplify the probe, or raise the limit with --insn-limit")
            }
            BackendError::ArrayKeyTooLarge { .. } => d
                .with_note("before Linux 4.18 the map helpers take keys and values only from the BPF stack (512 bytes); each string index column takes MAXSTRINGLEN bytes")
                .with_help("target a 4.18+ kernel, use fewer string index columns, or lower -D MAXSTRINGLEN"),
            BackendError::StackOverflow { .. } => d
                .with_note("values that live across helper calls (printf, context functions, string operations) are kept on the 512-byte BPF stack once r6-r9 are taken")
                .with_help("split the probe's work, or keep fewer values alive at once"),
            BackendError::BranchOutOfRange { .. } => d
                .with_note("before ISA v4 (Linux 6.6) a BPF jump reaches at most 32767 instructions")
                .with_help("target a 6.6+ kernel, or split the probe's work"),
            BackendError::Regalloc { .. } | BackendError::Checker { .. } => {
                d.with_note("this is a bug in stapc's backend")
            }
            _ => d,
        }
    }
}
