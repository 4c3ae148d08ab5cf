//! The mini-verifier: predicts what the Linux verifier will say about a
//! program, and why, before anything is loaded.
//!
//! Like the kernel it first checks the program's shape (jumps in range, no
//! unreachable instruction, no back-edge where the target kernel has no
//! bounded loops), then simulates every path with abstract register and
//! stack states (`reg`, `state`), checking each instruction the way
//! `do_check` does, and prunes a path when an already verified state at the
//! same prune point subsumes it. A rejection carries the kernel's wording for
//! the target kernel, the instruction, the register state there in the
//! kernel's log format, and a plain-English explanation.
//!
//! What it does not model is rejected with `VerifierErrorKind::Unsupported`
//! rather than guessed: BPF-to-BPF calls, callbacks (`bpf_loop`,
//! `bpf_for_each_map_elem`), kfuncs. It aims never to accept what the
//! target kernel rejects, and follows the kernel's imprecision as well as
//! its precision (untracked operations give unknown values, branches are
//! decided from ranges and known bits only). It may still reject a few
//! programs the kernel accepts: copies of a scalar are linked, but not a
//! copy plus a constant (6.10+ links those too), no BTF-typed access (reading
//! `struct bpf_map` fields through a map pointer) and a simpler 32/64-bit
//! bounds exchange. Measured against 6.18 (`sim/tests/verifier_kernel.rs`
//! and larger random sweeps of the same generators): no program accepted
//! that the kernel rejects in 2,400 corpus and generated programs, 15,000
//! index-bounding and 8,000 random ones; same verdict for all but 0.1%.
//!
//! Wording and rules that changed between kernels are chosen by
//! `Target::kernel`; they were checked on 6.18, and the version at which
//! older wording switches over is an estimate where the kernel history was
//! not consulted (see docs/verifier-messages.md).

mod cfg;
pub mod corpus;
mod ctx;
mod exec;
pub mod helpers;
mod log;
mod reg;
mod state;
mod tnum;

pub use log::{parse_kernel_log, KernelLogRejection};

use bpf::insn::Insn;
use bpf::{MapDef, Object, ProgramType, Target};
use std::fmt;

use reg::RegType;
use state::{format_state, Names, State};

/// How to verify one program.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub target: Target,
    pub prog_type: ProgramType,
    /// A stapc userspace program (begin/end/error): may call STAPC_* helpers
    /// and runs with an empty context.
    pub userspace: bool,
}

/// What verification cost, in the kernel's terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyStats {
    /// Instructions simulated over all paths (the kernel's "processed N insns").
    pub processed_insns: u64,
    /// Checkpoint states stored for pruning.
    pub states: u64,
    /// Most states alive at once (stored plus pending branches).
    pub peak_states: u64,
}

/// The class of a rejection (the message has the details).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerifierErrorKind {
    /// No instructions, or more than the target allows.
    ProgramSize,
    /// An opcode or field the kernel does not accept (or not on this kernel).
    InvalidInstruction,
    /// A bad `lddw` (truncated, unknown pseudo source, map index).
    InvalidLdImm64,
    JumpOutOfRange,
    LastInsnNotExit,
    BackEdge,
    UnreachableInsn,
    /// The processed-instruction limit.
    TooComplex,
    /// The pending-branch limit.
    TooManyBranches,
    InfiniteLoop,
    UninitializedRegister,
    FramePointerReadOnly,
    /// Dereferencing something that is not a valid pointer (scalar,
    /// map_value_or_null, map_ptr ...).
    InvalidMemAccess,
    StackOutOfBounds,
    UninitializedStack,
    MisalignedAccess,
    /// Spilling or filling a pointer with a size other than 8.
    SpillSize,
    /// Map value or ring-buffer memory accessed outside its size.
    MemoryOutOfBounds,
    /// An offset the verifier cannot bound.
    UnboundedAccess,
    ContextAccess,
    PointerArithmetic,
    /// A pointer escaping as data (unprivileged rules).
    PointerLeak,
    PointerComparison,
    /// The kernel does not know the helper id.
    UnknownHelper,
    /// The program type may not call the helper.
    HelperNotAllowed,
    HelperArgType,
    HelperArgSize,
    MapHelperMismatch,
    UnreleasedReference,
    DivisionByZero,
    InvalidShift,
    /// Legacy packet access in a program type without it.
    LdAbsNotAllowed,
    AtomicNotAllowed,
    /// Something the mini-verifier does not model.
    Unsupported,
}

/// A rejection, as the kernel would report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierError {
    pub insn: usize,
    pub kind: VerifierErrorKind,
    /// The kernel's wording for the target kernel (several lines when the
    /// kernel prints several, e.g. an out-of-bounds access and the range).
    pub message: String,
    /// The register state at `insn`, as the kernel's log line prints it.
    pub state: String,
    pub explanation: String,
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "insn {}: {}", self.insn, self.message)?;
        if !self.state.is_empty() {
            writeln!(f, "  state: {}", self.state)?;
        }
        write!(f, "  {}", self.explanation)
    }
}

impl std::error::Error for VerifierError {}

/// A rejection before the instruction and state are attached.
#[derive(Clone, Debug)]
pub(crate) struct Reject {
    pub kind: VerifierErrorKind,
    pub message: String,
    pub explanation: String,
}

pub(crate) fn reject(
    kind: VerifierErrorKind,
    message: impl Into<String>,
    explanation: impl Into<String>,
) -> Reject {
    Reject {
        kind,
        message: message.into(),
        explanation: explanation.into(),
    }
}

/// Verifies one program against `maps` (indexed by `lddw` immediates).
pub fn verify(
    insns: &[Insn],
    maps: &[MapDef],
    opts: &VerifyOptions,
) -> Result<VerifyStats, VerifierError> {
    exec::Verifier::new(insns, maps, opts).run()
}

/// Verifies every program of `obj` for `target`, in object order.
pub fn verify_object(
    obj: &Object,
    target: &Target,
) -> Vec<(String, Result<VerifyStats, VerifierError>)> {
    obj.programs
        .iter()
        .map(|p| {
            let opts = VerifyOptions {
                target: *target,
                prog_type: p.kind.program_type(),
                userspace: p.kind.is_userspace(),
            };
            (p.name.clone(), verify(&p.insns, &obj.maps, &opts))
        })
        .collect()
}

/// The entry state's printed form, for errors found before simulation.
fn entry_state(maps: &[MapDef], names: Names) -> String {
    format_state(&State::new(RegType::Ctx), maps, names)
}
