//! The tracing core of `tracer`: attach to a running Go program, count what
//! it allocates, its maps and goroutines, and build reports. No command
//! line, no terminal: the `tracer` binary (and a future agent) are front
//! ends over this API:
//!
//! ```no_run
//! use tracer::session::{Config, Mode, Session};
//! # fn main() -> anyhow::Result<()> {
//! let config = Config { pid: 1234, mode: Mode::Sampled, max_overhead_pct: 3.0,
//!                       maps: true, time: Vec::new(), top: 20 };
//! let mut session = Session::prepare(&config)?.attach()?; // checks, then probes
//! let start = session.mark();
//! // … drive it: `sample()` once a second, `sampler_step()` when
//! // `sampler_due()` says so (see the binary's run loop) …
//! let now = session.mark();
//! let report = session.report("final", &start, &now, false);
//! session.detach();
//! # let _ = report; Ok(()) }
//! ```
//!
//! Layers, from the target up (see ARCHITECTURE.md):
//! - the target: [`target`], [`procmem`], [`gobin`], [`golayout`],
//!   [`allocstats`], [`mapmem`], [`memory`], [`goroutines`], [`symbolize`],
//!   [`disasm`], [`sizeclass`];
//! - probes: [`environment`], [`privileges`], [`probes`] (what to attach),
//!   [`attach`] and [`uprobe_multi`] (attaching), [`sampling`] (windows
//!   and their governor);
//! - collection and aggregation: [`collect`], [`aggregate`], [`map_report`],
//!   [`map_sites`];
//! - the session: [`session`];
//! - the report, one value with many sinks: [`report`].

// The target.
pub mod allocstats;
pub mod disasm;
pub mod gobin;
pub mod golayout;
pub mod goroutines;
pub mod mapmem;
pub mod memory;
pub mod procmem;
pub mod sizeclass;
pub mod symbolize;
pub mod target;

// Probes.
pub mod attach;
pub mod environment;
pub mod privileges;
pub mod probes;
pub mod sampling;
pub mod uprobe_multi;

// Collection and aggregation.
pub mod aggregate;
pub mod collect;
pub mod map_report;
pub mod map_sites;

pub mod error;
pub mod report;
pub mod session;

#[cfg(test)]
mod testgo;

pub use attach::tracer_calibration_point;
