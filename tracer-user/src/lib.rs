//! The tracing core of `tracer`: attach to a running Go program, count what
//! it allocates, its maps and goroutines, and build reports. No command
//! line, no terminal: the `tracer` binary (and a future agent) are front
//! ends over this API:
//!
//! ```no_run
//! use tracer::session::{Config, Mode, Session};
//! # fn main() -> anyhow::Result<()> {
//! let config = Config { pid: 1234, mode: Mode::Sampled, max_overhead_pct: 3.0,
//!                       maps: true, time: Vec::new(), top: 20, cpu_hz: 99 };
//! let mut session = Session::prepare(&config)?.attach()?; // checks, then probes
//! let start = session.mark();
//! // … drive it: `sample()` once a second, `sampler_step()` when
//! // `sampler_due()` says so or a window's probes woke the ring buffer
//! // (`collector.agg.window_spent`), or simply `drive::drive` …
//! let now = session.mark();
//! let report = session.report("final", &start, &now, false);
//! session.detach();
//! # let _ = report; Ok(()) }
//! ```
//!
//! Layers, from the target up (see ARCHITECTURE.md):
//! - [`tracee`]: the process, its Go binary, the runtime's layouts, memory
//!   readers;
//! - [`probes`]: plans, checks of the machine, attaching and detaching;
//! - [`collect`]: the collector and the aggregators;
//! - [`sampling`]: the default mode's windows, their overhead governor and
//!   the split of the runtime's own counts by the windows' samples;
//! - [`session`]: one traced process, from attach to detach; [`drive`]:
//!   running an attached session until told to stop;
//! - [`report`]: the report, one value with many sinks;
//! - [`fleet`]: the host-wide agent (discovery, read-only runtime
//!   figures for every Go process, the Prometheus endpoint).

pub mod tracee;

pub mod probes;

pub mod collect;

pub mod sampling;

pub mod session;

pub mod drive;

pub mod report;

pub mod fleet;

pub mod error;

pub mod background;

pub mod cputime;

#[cfg(test)]
mod testgo;

pub use probes::calibrate::{tracer_calibration_point, tracer_latency_point};
