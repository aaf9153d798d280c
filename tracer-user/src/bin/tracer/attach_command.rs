//! `tracer attach`: the flags become a [`Config`]; reports go to the
//! stream of `--format` and the export files; the run loop (or the TUI)
//! drives the session until Ctrl-C, `--duration` or the target's exit.
//! Every output path is checked before the first probe is attached.
use std::{
    fs::File,
    io::{self, IsTerminal, Write},
    path::{Path, PathBuf},
};

use tracer::{
    error::UserError,
    report::{
        files::{self, AtomicFileSink},
        flamegraph, folded,
        json::JsonSink,
        pprof,
        text::TextSink,
        MultiSink, Report, Sink,
    },
    session::{Config, Session},
};

use crate::{
    cli::{AttachArgs, Format, Mode},
    run_loop::{self, Stop, Stops},
};

impl From<&AttachArgs> for Config {
    fn from(args: &AttachArgs) -> Config {
        Config {
            pid: args.pid,
            mode: match args.mode {
                Mode::Exact => tracer::session::Mode::Exact,
                Mode::Sampled => tracer::session::Mode::Sampled,
            },
            max_overhead_pct: args.max_overhead,
            maps: !args.no_maps,
            time: args.time.clone(),
            top: args.top,
            cpu_hz: args.cpu_hz,
        }
    }
}

/// The output format: `--format`, else the TUI on a terminal, else text.
fn format(args: &AttachArgs) -> Format {
    let tty = args.output.is_none() && io::stdout().is_terminal();
    args.format
        .unwrap_or(if tty { Format::Tui } else { Format::Text })
}

fn output_error(path: &Path, e: io::Error) -> UserError {
    UserError::Output {
        path: path.display().to_string(),
        why: e.to_string(),
    }
}

/// Where reports go: the stream of `--format` (text or JSON; after the TUI
/// the final report is text) plus each export file.
fn sinks(args: &AttachArgs, format: Format) -> Result<MultiSink, UserError> {
    let out: Box<dyn Write> = match &args.output {
        // Buffered: a report is many small writes; each sink flushes it whole.
        Some(path) => Box::new(io::BufWriter::new(
            File::create(path).map_err(|e| output_error(path, e))?,
        )),
        None => Box::new(io::stdout()),
    };
    let mut sinks: Vec<Box<dyn Sink>> = vec![match format {
        Format::Json => Box::new(JsonSink::new(out)),
        Format::Text | Format::Tui => Box::new(TextSink::new(out, args.top)),
    }];
    let weight = args.weight.into();
    let exports: [(&Option<PathBuf>, files::Render); 3] = [
        (
            &args.flamegraph,
            Box::new(move |r: &Report| flamegraph::flamegraph_svg(r, weight)),
        ),
        (
            &args.folded,
            Box::new(move |r: &Report| Ok(folded::folded(r, weight).into_bytes())),
        ),
        (&args.pprof, Box::new(pprof::pprof_gz)),
    ];
    for (path, render) in exports {
        if let Some(path) = path {
            files::check_writable(path).map_err(|e| output_error(path, e))?;
            sinks.push(Box::new(AtomicFileSink::new(path.clone(), render)));
        }
    }
    Ok(MultiSink(sinks))
}

pub fn run(args: &AttachArgs) -> anyhow::Result<()> {
    let config = Config::from(args);
    if !(config.max_overhead_pct > 0.0 && config.max_overhead_pct <= 100.0) {
        return Err(UserError::Usage("--max-overhead must be in (0, 100]".into()).into());
    }
    tracer::probes::oncpu::check_cpu_hz(args.cpu_hz)?;
    let format = format(args);
    if format == Format::Tui && !io::stdout().is_terminal() {
        return Err(UserError::Usage("--format tui needs a terminal on stdout".into()).into());
    }
    // Before anything starts: threads started later inherit the CPUs.
    let moved = crate::placement::start_up(args.pid, config.mode, format != Format::Tui);
    let prepared = Session::prepare(&config)?;
    let mut sink = sinks(args, format)?;
    let mut session = prepared.attach()?;
    crate::placement::attached(moved.as_ref());
    if let (Some(e), true) = (&session.cpu_error, args.cpu_hz != 0) {
        eprintln!("tracer: on-CPU sampling unavailable: {e}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stops = {
        let _in_runtime = rt.enter();
        Stops::new(args.duration)?
    };
    // The window starts before the "attached" line: whoever waits for it
    // (a script, a test) sees everything it does afterwards counted.
    let start = session.mark();
    if format != Format::Tui {
        eprintln!(
            "tracer: attached {} probes to pid {} ({}, {}) in {} ms; {}",
            session.attached(),
            session.target.pid,
            session.bin.build_info().go_version,
            session.scheme(),
            session.attach_ns / 1_000_000,
            match args.duration {
                Some(d) => format!("stopping after {}", humantime::format_duration(d)),
                None => "Ctrl-C to stop".into(),
            }
        );
    }
    let stop = if format == Format::Tui {
        let flamegraph = args
            .flamegraph
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("tracer-{}.svg", args.pid)));
        rt.block_on(run_loop::run_tui(
            &mut session,
            &start,
            stops,
            &flamegraph,
            args.weight.into(),
        ))?
    } else {
        rt.block_on(run_loop::run(
            &mut session,
            &start,
            stops,
            args.interval,
            &mut sink,
        ))?
    };
    // The window ends now; the report is written before detaching, which
    // takes ~0.1 s per probe (RCU grace periods, serialized in the kernel).
    // What the target does meanwhile is not reported.
    let end = session.mark();
    let exited = stop == Stop::TargetExited;
    let report = session.report("final", &start, &end, exited);
    sink.write(&report)?;
    eprintln!(
        "tracer: {}; detaching {} probes",
        match stop {
            Stop::TargetExited => format!("target pid {} exited", session.target.pid),
            Stop::Duration => "duration reached".into(),
            Stop::Signal => "interrupted".into(),
        },
        session.links()
    );
    session.detach();
    eprintln!("tracer: detached");
    Ok(())
}
