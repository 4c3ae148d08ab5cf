//! stapc simulator: a userspace eBPF machine with tagged memory, maps and helpers, and whole-script sessions.
#![forbid(unsafe_code)]

pub mod format;
mod helpers;
pub mod machine;
pub mod maps;
pub mod memory;

pub use machine::{Code, EventContext, ExecError, Machine, MachineOptions, RunOutcome};
pub use maps::{MapError, MapStore, SimMaps};
pub use memory::{Fault, Memory, RegionKind};
pub mod session;

pub use session::{handle_record, run, RecordAction, SessionOptions, SimError};
