//! The one loop that owns shutdown: interval reports, `--duration`,
//! Ctrl-C/SIGTERM and the target's exit.
use std::time::Duration;

use tokio::{
    signal::unix::{signal, SignalKind},
    time::{interval, sleep, MissedTickBehavior},
};

use crate::{
    report::Sink,
    session::{Mark, Session},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Duration,
    Signal,
    TargetExited,
}

const LIVENESS_CHECK: Duration = Duration::from_millis(200);

pub async fn run(
    session: &mut Session<'_>,
    start: &Mark,
    duration: Option<Duration>,
    every: Option<Duration>,
    sink: &mut dyn Sink,
) -> anyhow::Result<Stop> {
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let deadline = sleep(duration.unwrap_or(Duration::from_secs(u64::MAX / 4)));
    tokio::pin!(deadline);
    let mut live = interval(LIVENESS_CHECK);
    live.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut ticks = interval(every.unwrap_or(Duration::from_secs(3600)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut last = start.clone();
    loop {
        tokio::select! {
            _ = sigint.recv() => return Ok(Stop::Signal),
            _ = sigterm.recv() => return Ok(Stop::Signal),
            _ = &mut deadline, if duration.is_some() => return Ok(Stop::Duration),
            _ = live.tick() => {
                session.collector.drain_events();
                if !session.target.alive() {
                    return Ok(Stop::TargetExited);
                }
            }
            _ = ticks.tick(), if every.is_some() => {
                let now = session.mark();
                let report = session.report("interval", &last, &now, false);
                sink.write(&report)?;
                last = now;
            }
        }
    }
}
