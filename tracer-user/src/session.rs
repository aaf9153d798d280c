//! One `tracer attach`: checks, load, attach, then the run loop; every
//! user-facing failure happens before the first probe is attached.
use std::{
    collections::HashMap,
    fs::File,
    io::{self, IsTerminal, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use hdrhistogram::Histogram;
use tracer_common::AllocKey;

use crate::{
    aggregate::allocs,
    attach,
    cli::{AttachArgs, Format, Mode},
    collect::{Collector, Counters},
    error::UserError,
    gobin::{GoBinError, GoBinary},
    golayout, privileges,
    probes::{self, AllocPlan, TimedFunc},
    report::{
        files::{self, AtomicFileSink},
        flamegraph, folded,
        json::JsonSink,
        pprof,
        text::TextSink,
        FuncLatency, Overhead, Percentiles, Report, Sink, TargetInfo, Window,
    },
    run_loop::{self, Stop},
    symbolize::Symbolizer,
    target::Target,
};

/// Everything fixed for the session, used to build each report.
pub struct Session<'a> {
    pub target: Target,
    pub bin: &'a GoBinary,
    pub go_minor: u32,
    pub plan: AllocPlan,
    pub timed: Vec<TimedFunc>,
    pub cost_per_hit_ns: f64,
    /// Load, calibration and attach time.
    pub attach_ns: u64,
    pub symbolizer: Symbolizer<'a>,
    pub collector: Collector,
}

/// State at the start of a window.
#[derive(Clone)]
pub struct Mark {
    pub at: Instant,
    pub unix_ns: u64,
    pub counts: HashMap<AllocKey, u64>,
    pub counters: Counters,
    pub cpu_ns: u64,
    pub latencies: Vec<Histogram<u64>>,
}

pub fn open_binary(target: &Target) -> Result<GoBinary, UserError> {
    GoBinary::open(&target.exe_path).map_err(|e| match e {
        GoBinError::NotElf | GoBinError::NotGo(_) => UserError::NotGo {
            pid: target.pid,
            exe: target.exe.clone(),
            why: e.to_string(),
        },
        other => UserError::Unsupported(format!("{}: {other}", target.exe)),
    })
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
/// the final report is text) plus each export file. Every path is checked
/// before anything is attached.
fn sinks(args: &AttachArgs, format: Format) -> Result<MultiSink, UserError> {
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(File::create(path).map_err(|e| output_error(path, e))?),
        None => Box::new(io::stdout()),
    };
    let mut sinks: Vec<Box<dyn Sink>> = vec![match format {
        Format::Json => Box::new(JsonSink::new(out)),
        Format::Text | Format::Tui => Box::new(TextSink::new(out, args.top)),
    }];
    let weight = args.weight;
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

/// Writes each report to every sink.
pub struct MultiSink(Vec<Box<dyn Sink>>);

impl Sink for MultiSink {
    fn write(&mut self, report: &Report) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.write(report))
    }
}

pub fn attach(args: &AttachArgs) -> anyhow::Result<()> {
    if args.mode == Mode::Sampled {
        return Err(UserError::Usage(
            "--mode sampled is not available yet; use --mode exact".into(),
        )
        .into());
    }
    let format = format(args);
    if format == Format::Tui && !io::stdout().is_terminal() {
        return Err(UserError::Usage("--format tui needs a terminal on stdout".into()).into());
    }
    let target = Target::open(args.pid)?;
    let bin = open_binary(&target)?;
    let go_minor = probes::go_minor(&bin)?;
    let plan = probes::alloc_plan(&bin)?;
    let timed = args
        .time
        .iter()
        .map(|f| probes::timed_func(&bin, f))
        .collect::<Result<Vec<_>, _>>()?;
    let goid_offset = golayout::layout_for(1, go_minor)
        .map(|l| l.g.goid)
        .ok_or_else(|| UserError::Unsupported(format!("no runtime layout for go1.{go_minor}")))?;
    privileges::check()?;
    let mut sink = sinks(args, format)?;
    let bias = target.load_bias(bin.first_load_vaddr(), bin.is_pie())?;

    let attach_started = Instant::now();
    let mut probes = attach::load()?;
    let cost_per_hit_ns = probes.calibrate()?;
    probes.configure(goid_offset)?;
    let collector = Collector::new(&mut probes, timed.len())?;
    probes.attach_allocs(&bin, &target.exe_path, target.pid, &plan)?;
    probes.attach_timed(&bin, &target.exe_path, target.pid, &timed)?;
    let mut session = Session {
        symbolizer: Symbolizer::new(&bin, bias),
        target,
        bin: &bin,
        go_minor,
        plan,
        timed,
        cost_per_hit_ns,
        attach_ns: attach_started.elapsed().as_nanos() as u64,
        collector,
    };
    if format != Format::Tui {
        eprintln!(
            "tracer: attached {} probes to pid {} ({}, {}) in {} ms; {}",
            probes.attached,
            session.target.pid,
            bin.build_info().go_version,
            session.plan.scheme,
            session.attach_ns / 1_000_000,
            match args.duration {
                Some(d) => format!("stopping after {}", humantime::format_duration(d)),
                None => "Ctrl-C to stop".into(),
            }
        );
    }
    let start = session.mark();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stop = if format == Format::Tui {
        let flamegraph = args
            .flamegraph
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("tracer-{}.svg", args.pid)));
        rt.block_on(run_loop::run_tui(
            &mut session,
            &start,
            args.duration,
            &flamegraph,
            args.weight,
        ))?
    } else {
        rt.block_on(run_loop::run(
            &mut session,
            &start,
            args.duration,
            args.interval,
            &mut sink,
        ))?
    };
    // The window ends now. Detaching takes ~0.1 s per probe (an RCU grace
    // period each); what the target allocates meanwhile is not reported.
    let end = session.mark();
    drop(probes);
    let exited = stop == Stop::TargetExited;
    let report = session.report("final", &start, &end, exited);
    sink.write(&report)?;
    eprintln!(
        "tracer: {}; detached",
        match stop {
            Stop::TargetExited => format!("target pid {} exited", session.target.pid),
            Stop::Duration => "duration reached".into(),
            Stop::Signal => "interrupted".into(),
        }
    );
    Ok(())
}

impl Session<'_> {
    pub fn mark(&mut self) -> Mark {
        Mark {
            at: Instant::now(),
            unix_ns: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            counts: self.collector.alloc_counts(),
            counters: self.collector.counters(),
            cpu_ns: self.target.cpu_time_ns().unwrap_or(0),
            latencies: self.collector.latencies.clone(),
        }
    }

    pub fn report(&mut self, kind: &'static str, from: &Mark, to: &Mark, exited: bool) -> Report {
        let secs = to.at.duration_since(from.at).as_secs_f64();
        let counts = allocs::delta(&to.counts, &from.counts);
        let counters = to.counters.since(&from.counters);
        let Session {
            symbolizer,
            collector,
            ..
        } = self;
        let mut stack_of = |id: u64| {
            if id == 0 {
                return None;
            }
            collector.stack(id).map(|s| symbolizer.stack(s.frames()))
        };
        let (allocations, allocation_totals) =
            allocs::by_site(&counts, self.go_minor, secs, &mut stack_of);
        let alloc_stacks = allocs::by_stack(&counts, &mut stack_of);
        let cpu_ns = to.cpu_ns.saturating_sub(from.cpu_ns);
        let probe_ns = counters.probe_hits as f64 * self.cost_per_hit_ns;
        let info = self.bin.build_info();
        Report {
            schema: 1,
            kind,
            target: TargetInfo {
                pid: self.target.pid,
                exe: self.target.exe.clone(),
                go_version: info.go_version.clone(),
                stripped: self.bin.is_stripped(),
                pie: self.bin.is_pie(),
                cgo: self.bin.has_cgo(),
                exited,
            },
            window: Window {
                start_unix_ns: from.unix_ns,
                duration_ns: Duration::from_secs_f64(secs).as_nanos() as u64,
                mode: "exact",
                sample_rate: 1,
                alloc_probes: self.plan.scheme.clone(),
                attach_ns: self.attach_ns,
            },
            overhead: Overhead {
                probe_hits: counters.probe_hits,
                lost_events: counters.lost,
                stack_drops: counters.stack_drops,
                stacks_truncated: counters.stack_truncated,
                cost_per_hit_ns: self.cost_per_hit_ns,
                est_target_slowdown_pct: slowdown_pct(probe_ns, cpu_ns as f64),
                target_cpu_ns: cpu_ns,
            },
            allocations,
            allocation_totals,
            functions: self.function_latencies(from, to),
            alloc_stacks,
        }
    }
}

impl Session<'_> {
    fn function_latencies(&self, from: &Mark, to: &Mark) -> Vec<FuncLatency> {
        self.timed
            .iter()
            .zip(to.latencies.iter().zip(&from.latencies))
            .map(|(f, (now, base))| {
                let mut h = now.clone();
                let _ = h.subtract(base);
                FuncLatency {
                    function: f.name.clone(),
                    calls: h.len(),
                    latency_ns: percentiles(&h),
                }
            })
            .collect()
    }
}

pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
        mean: h.mean(),
    }
}

/// Probe time is charged to the target's threads; the rest is its own work.
fn slowdown_pct(probe_ns: f64, target_cpu_ns: f64) -> f64 {
    let own = (target_cpu_ns - probe_ns)
        .max(target_cpu_ns * 0.01)
        .max(1.0);
    if probe_ns <= 0.0 {
        0.0
    } else {
        100.0 * probe_ns / own
    }
}
