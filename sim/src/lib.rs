//! stapc simulator: a userspace eBPF machine with tagged memory, maps and
//! helpers, and whole-script sessions (`stapc --sim`).
//!
//! - `memory`: addresses are `(region, offset)` pairs, never host pointers;
//!   every access is bounds-checked and a fault names the region and offset.
//! - `machine`: `Code::new(&insns)` pre-decodes a program once;
//!   `Machine::run` executes it with fuel, BPF-to-BPF calls and helpers.
//! - `maps`: the `MapStore` trait and `SimMaps`, the in-memory maps.
//! - `format`: printf records and SystemTap's histogram text.
//! - `stats`: statistics merged over the CPUs (`MapStore`), `@hist` text.
//! - `session`: `run(&Object, &SessionOptions, out, err)` plays a whole
//!   compiled script through the event model of shared/conformance/README.md.
//! - `events`: `--sim-events FILE`, JSON lines of kernel events
//!   (`parse_events`), documented there.
//! - `testgen`: random verifier-valid programs from bytes, shared by the
//!   differential test against the kernel and the fuzz targets.
#![forbid(unsafe_code)]

pub mod events;
pub mod format;
pub mod fuzzing;
mod helpers;
pub mod machine;
pub mod maps;
pub mod memory;
pub mod session;
pub mod stats;
pub mod testgen;
pub mod verifier;

pub use events::{parse_events, read_events_file, EventsError, SimEvent};
pub use machine::{Code, EventContext, ExecError, Machine, MachineOptions, RunOutcome};
pub use maps::{MapError, MapStore, SimMaps};
pub use memory::{Fault, Memory, RegionKind};
pub use session::{handle_record, run, RecordAction, SessionOptions, SimError, UserspaceRunner};
