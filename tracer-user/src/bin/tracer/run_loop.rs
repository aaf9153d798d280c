//! The one loop that owns shutdown: interval reports or the TUI,
//! `--duration`, Ctrl-C/SIGTERM and the target's exit.
use std::{path::Path, pin::Pin, time::Duration};

use tokio::{
    signal::unix::{signal, Signal, SignalKind},
    time::{interval, sleep, Interval, MissedTickBehavior, Sleep},
};

use crate::tui::{spawn_input, Tui, TuiCommand};
use tracer::{
    drive::{drive, liveness_ticker},
    report::{files, flamegraph, folded::Weight, Sink},
    session::{Mark, Session},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Duration,
    Signal,
    TargetExited,
}

const TUI_REFRESH: Duration = Duration::from_secs(1);

/// What ends a session, whatever shows the data. Created before the
/// tracer says it attached, so a Ctrl-C right after is never lost.
pub struct Stops {
    sigint: Signal,
    sigterm: Signal,
    deadline: Pin<Box<Sleep>>,
    has_deadline: bool,
    live: Interval,
}

impl Stops {
    /// Must run inside the tokio runtime (signal registration).
    pub fn new(duration: Option<Duration>) -> anyhow::Result<Stops> {
        Ok(Stops {
            sigint: signal(SignalKind::interrupt())?,
            sigterm: signal(SignalKind::terminate())?,
            deadline: Box::pin(sleep(duration.unwrap_or(Duration::from_secs(u64::MAX / 4)))),
            has_deadline: duration.is_some(),
            live: liveness_ticker(),
        })
    }

    /// Waits for a stop; meanwhile drives the session (`tracer::drive`).
    async fn next(&mut self, session: &mut Session) -> Stop {
        let Stops {
            sigint,
            sigterm,
            deadline,
            has_deadline,
            live,
        } = self;
        let stop = async {
            tokio::select! {
                _ = sigint.recv() => Stop::Signal,
                _ = sigterm.recv() => Stop::Signal,
                _ = deadline.as_mut(), if *has_deadline => Stop::Duration,
            }
        };
        drive(session, live, stop)
            .await
            .unwrap_or(Stop::TargetExited)
    }
}

fn ticker(every: Duration) -> Interval {
    let mut t = interval(every);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// Text/JSON: a report per `every` (if given) until a stop.
pub async fn run(
    session: &mut Session,
    start: &Mark,
    mut stops: Stops,
    every: Option<Duration>,
    sink: &mut dyn Sink,
) -> anyhow::Result<Stop> {
    let mut ticks = ticker(every.unwrap_or(Duration::from_secs(3600)));
    ticks.tick().await;
    let mut last = start.clone();
    loop {
        tokio::select! {
            stop = stops.next(session) => return Ok(stop),
            _ = ticks.tick(), if every.is_some() => {
                let now = session.mark();
                let report = session.report("interval", &last, &now, false);
                sink.write(&report)?;
                last = now;
            }
        }
    }
}

/// The live TUI, refreshed every second, until a stop or `q`.
pub async fn run_tui(
    session: &mut Session,
    start: &Mark,
    mut stops: Stops,
    flamegraph_path: &Path,
    weight: Weight,
) -> anyhow::Result<Stop> {
    let mut ticks = ticker(TUI_REFRESH);
    ticks.tick().await;
    let mut tui = Tui::start()?;
    let mut keys = spawn_input();
    // recv() returns None at once forever after the input thread ends.
    let mut keys_open = true;
    let mut last = start.clone();
    let mut total = None;
    tui.draw()?;
    loop {
        tokio::select! {
            stop = stops.next(session) => return Ok(stop),
            _ = ticks.tick() => {
                let now = session.mark();
                let recent = session.report("interval", &last, &now, false);
                let run = session.report("interval", start, &now, false);
                tui.update(&recent, &run);
                tui.draw()?;
                total = Some(run);
                last = now;
            }
            ev = keys.recv(), if keys_open => match ev {
                Some(ev) => {
                    match tui.on_event(ev) {
                        Some(TuiCommand::Quit) => return Ok(Stop::Signal),
                        Some(TuiCommand::WriteFlamegraph) => {
                            let status = match &total {
                                None => "no data yet".to_string(),
                                Some(r) => match flamegraph::flamegraph_svg(r, weight)
                                    .and_then(|svg| Ok(files::write_atomic(flamegraph_path, &svg)?))
                                {
                                    Ok(()) => format!("flamegraph written to {}", flamegraph_path.display()),
                                    Err(e) => format!("flamegraph not written: {e}"),
                                },
                            };
                            tui.set_status(status);
                        }
                        None => {}
                    }
                    tui.draw()?;
                }
                None => keys_open = false,
            },
        }
    }
}
