//! `tracer agent`: every Go process on the host, found and watched
//! without a probe, served to Prometheus.
//!
//! - [`discover`]: scans `/proc` for Go programs (build info), follows
//!   starts and exits, keeps one [`crate::tracee::vitals::VitalsReader`]
//!   per process;
//! - [`select`]: `--select` (executable globs, container ids);
//! - [`cgroup`]: a process's container and pod from `/proc/PID/cgroup`;
//!   [`kube`]: their namespace and name from the Kubernetes API;
//! - [`sites`]: per-site heap (the runtime's own profile, when on) and
//!   goroutines by creation site; [`binaries`]: parsed executables for
//!   symbolizing, bounded;
//! - [`slices`]: the default mode on one process at a time (round robin):
//!   allocation rates by site for every process, within the budget;
//! - [`findings`]: heap growth, goroutine leaks and MADV_FREE RSS from
//!   successive scrapes;
//! - [`exposition`]: the OpenMetrics page;
//! - [`profiles`], [`push`]: pprof profiles every period (goroutines by
//!   creation site; the heap when the runtime's profile is on) to a
//!   directory, Pyroscope and Parca; `otlp` (feature `otlp`): to an
//!   OTLP/HTTP profiles endpoint;
//! - [`agent`]: the scan loop, the read-only HTTP endpoints, signals.
//!
//! Every figure but the allocation rates by site is read from the
//! processes' memory and `/proc` without a probe; those come from the
//! slices, which probe one process at a time in the default mode's
//! governed windows (`--slice 0`: no probe at all).

pub mod agent;
pub mod binaries;
pub mod cgroup;
pub mod discover;
pub mod exposition;
pub mod findings;
pub mod kube;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod profiles;
pub mod push;
pub mod select;
pub mod sites;
pub mod slices;
