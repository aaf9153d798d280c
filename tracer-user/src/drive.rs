//! Driving an attached session until something says stop: drain the ring
//! buffer whenever it has records, step the default mode's sampler when it
//! is due, and at each liveness tick drain, take the session's periodic
//! sample and check that the target still lives. The CLI's run loop and
//! the fleet agent's allocation slices both use it. In the default mode
//! the loop yields its CPU meanwhile ([`Yielding`]): idle priority, but
//! for attaching and detaching probes and when its steps come late.

use std::future::Future;
use std::time::Duration;

use tokio::time::{interval, Interval, MissedTickBehavior};

use crate::background::Yielding;
use crate::session::Session;

/// How often the ring buffer is drained at the latest and the target's
/// liveness checked.
pub const LIVENESS_CHECK: Duration = Duration::from_millis(200);

/// The liveness ticker [`drive`] takes (kept by the caller across calls,
/// so re-entering `drive` does not sample early).
pub fn liveness_ticker() -> Interval {
    let mut t = interval(LIVENESS_CHECK);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// Runs `session` until `stop` resolves (`Some` of its output) or the
/// target exits (`None`).
pub async fn drive<T>(
    session: &mut Session,
    live: &mut Interval,
    stop: impl Future<Output = T>,
) -> Option<T> {
    // SAFETY: the ring buffer's fd belongs to the collector, which
    // outlives this registration (dropped when `drive` returns).
    let ring = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(
            session.collector.events_fd(),
            tokio::io::Interest::READABLE,
        )
    }
    .ok();
    tokio::pin!(stop);
    let mut yielding = session.sampling.as_ref().and_then(|_| Yielding::start());
    loop {
        let target_cores = session.sampler_cores();
        let sampler_due = session.sampler_due();
        let waits_from = tokio::time::Instant::now();
        let far = waits_from + Duration::from_secs(3600);
        // How late a timed step runs: the time it waited for a CPU past its
        // due time (not the loop's own work before it started waiting).
        let mut woke = |due: tokio::time::Instant| {
            if let Some(y) = yielding.as_mut() {
                y.woke(due.max(waits_from).elapsed(), target_cores);
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(sampler_due.unwrap_or(far)), if sampler_due.is_some() => {
                woke(sampler_due.unwrap_or(far));
                session.sampler_step();
            }
            ready = async { ring.as_ref()?.readable().await.ok() }, if ring.is_some() => {
                session.collector.drain_events();
                if let Some(mut guard) = ready {
                    guard.clear_ready();
                }
                // A window's probes woke us: it has spent its allowance.
                if std::mem::take(&mut session.collector.agg.window_spent) {
                    session.sampler_step();
                }
            }
            v = &mut stop => return Some(v),
            due = live.tick() => {
                woke(due);
                session.collector.drain_events();
                session.sample();
                if !session.target.alive() {
                    return None;
                }
            }
        }
    }
}
