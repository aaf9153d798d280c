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
//! - [`findings`]: heap growth, goroutine leaks and MADV_FREE RSS from
//!   successive scrapes;
//! - [`exposition`]: the OpenMetrics page;
//! - [`profiles`], [`push`]: pprof profiles every period (goroutines by
//!   creation site; the heap when the runtime's profile is on) to a
//!   directory, Pyroscope and Parca;
//! - [`agent`]: the scan loop, the read-only HTTP endpoints, signals.
//!
//! The agent attaches nothing: every figure is read from the processes'
//! memory and `/proc` at scrape time.

pub mod agent;
pub mod binaries;
pub mod cgroup;
pub mod discover;
pub mod exposition;
pub mod findings;
pub mod kube;
pub mod profiles;
pub mod push;
pub mod select;
pub mod sites;
