//! stapc midend: the resolved `Script` → one SSA `ir::Function` per probe
//! point → optimised IR (passes, budget). The backend consumes `Module`.
#![forbid(unsafe_code)]

pub mod ir;

pub use ir::Module;
