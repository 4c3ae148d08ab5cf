//! stapc midend: the resolved `Script` → one SSA `ir::Function` per probe
//! point → optimised IR (passes, budget). The backend consumes `Module`.
#![forbid(unsafe_code)]

pub mod cfg;
pub mod ir;
pub mod print;
pub mod verifier;

pub use ir::Module;
pub use print::{print_function, print_module, print_module_with};
