//! Probes: what to attach to a Go binary (the plans, re-exported here),
//! checking the machine can, attaching and detaching them.
mod plan;

pub use plan::*;

pub mod attach;
pub mod calibrate;
pub mod environment;
mod gcwake;
pub mod oncpu;
pub mod privileges;
