//! One traced process: [`Session::prepare`] checks and plans (every
//! failure a user can cause happens there, before anything is attached),
//! [`Prepared::attach`] loads and attaches; then marks, samples, sampler
//! steps and reports, until [`Session::detach`].
use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use hdrhistogram::Histogram;
use tracer_common::AllocKey;

use crate::{
    background::Background,
    collect::aggregate::{
        allocs,
        goroutines::{leak_rate, SiteCounts},
        madvise::{advice_name, MadviseTable},
    },
    collect::inuse::{Inputs, InuseTracker},
    collect::liveness::Liveness,
    collect::map_report::{self, MapContext},
    collect::{
        cpu::{self, CpuCounts, CpuSampler},
        map_cost, Collector, Counters,
    },
    error::UserError,
    probes::attach,
    probes::calibrate::{LatencyCalibration, Traps},
    probes::environment::{self, TargetLock},
    probes::privileges,
    probes::{self, AllocPlan, TimedFunc},
    report::{
        percentiles, CallsBytes, CpuReport, CpuStack, Finding, FuncLatency, GoroutineSite,
        GoroutineTotals, Latency, MadviseCaller, MadviseReport, Overhead, Report, RssSample,
        TargetInfo, Window,
    },
    sampling::{self, governor::slowdown, SampledState},
    tracee::allocstats::{self, AllocCounters},
    tracee::cpus,
    tracee::gobin::Frame,
    tracee::gobin::{GoBinError, GoBinary},
    tracee::golayout,
    tracee::goroutines::{
        self,
        snapshot::{MARK_MAX_AGE, SAMPLE_MAX_AGE},
        SystemStarts,
    },
    tracee::memory::{self, madv_free_finding, SmapsRollup},
    tracee::procmem::ProcMem,
    tracee::symbolize::{self, Symbolized, Symbolizer},
    tracee::vitals::locate_gc_controller,
    tracee::Target,
};

/// Everything fixed for the session, used to build each report.
pub struct Session {
    pub target: Target,
    pub bin: Arc<GoBinary>,
    pub go_minor: u32,
    pub plan: AllocPlan,
    pub timed: Vec<TimedFunc>,
    pub traps: Traps,
    /// Load, calibration and attach time.
    pub attach_ns: u64,
    pub layout: &'static golayout::Layout,
    /// The runtime's goroutine list was read at attach.
    pub goroutines_listed: bool,
    /// Sampled mode: re-reads the runtime's goroutine list (no probes).
    pub go_snapshots: Option<goroutines::Snapshots>,
    /// Once a second: live goroutines per site, RSS.
    pub samples: Vec<Sample>,
    pub symbolizer: Symbolizer,
    pub collector: Collector,
    pub maps: MapContext<'static>,
    /// Sampled mode: the governor and its probes.
    pub sampling: Option<SampledState>,
    /// Address of `runtime.memstats` (the runtime's allocation counters).
    pub memstats: Option<u64>,
    /// Owned here so the sampler can attach and detach.
    pub probes: Option<attach::Probes>,
    /// Sites shown per report section.
    pub top: usize,
    /// On-CPU sampling (None: off, or it could not start: `cpu_error`).
    pub cpu: Option<CpuSampler>,
    /// In-use heap by site (the runtime's heap profile).
    pub inuse: InuseTracker,
    pub cpu_error: Option<String>,
    /// Link-time entry of each probed map function → its `map_op`.
    map_funcs: HashMap<u64, u32>,
    /// The entry/RET probe pair's offset and resolution, calibrated at attach.
    pub latency: LatencyCalibration,
    /// The target's CPU time when last read.
    last_cpu_ns: Option<u64>,
    /// The CPUs the target may run on (read at attach; all online ones
    /// where its threads' lists cannot be read).
    target_cpus: Vec<u32>,
    /// Default mode: heap bytes the runtime released to the OS (decreases
    /// of its committed heap, polled with the allocation counters).
    released: memory::ReleaseCounter,
    /// The advice the runtime releases memory with (its GODEBUG).
    release_advice: &'static str,
    /// `smaps_rollup` for the RSS timeline, paced by its own cost.
    rollup: memory::RollupPacer,
    /// (return address, suffix) → the call is inside an inlined function so named.
    call_cache: HashMap<(u64, &'static str), bool>,
    /// Probe points attached at the start.
    attached: usize,
    /// No other tracer attaches to the target meanwhile.
    _lock: TargetLock,
}

/// The debug toggle's period of on-CPU sampling (see `debug_cpu_toggle`), ms.
const CPU_TOGGLE_MS: u64 = 600;

/// State at the start of a window.
#[derive(Clone)]
pub struct Mark {
    pub at: Instant,
    pub unix_ns: u64,
    pub counts: HashMap<AllocKey, u64>,
    pub counters: Counters,
    pub cpu_ns: u64,
    /// The tracer's own CPU time so far (`cputime::process_cpu_time`).
    pub tracer_cpu_ns: u64,
    pub latencies: Vec<Histogram<u64>>,
    pub go_sites: HashMap<u64, SiteCounts>,
    /// Sampled mode: the runtime's goid counter (goroutines created).
    pub goidgen: Option<u64>,
    pub madvise: MadviseTable,
    /// Default mode: bytes the runtime released so far (`ReleaseCounter`).
    pub released_bytes: u64,
    pub map_ops: map_report::MapMark,
    /// Sampled mode: the estimates and windows so far.
    pub sampled: Option<sampling::SampledMark>,
    /// BPF run time (ns) and runs of every uprobe program so far.
    pub bpf: (u64, u64),
    /// BPF run time (ns) and runs of the on-CPU sampling program so far.
    pub cpu_bpf: (u64, u64),
    /// The same of the GC watch's wakeup program.
    pub gc_wake_bpf: (u64, u64),
    /// Sampled mode: how long map operations have been watched so far.
    pub map_watch: Duration,
    /// On-CPU samples so far.
    pub cpu: CpuCounts,
}

/// What attaching measured about the machine (see
/// [`Prepared::attach_calibrated`]).
#[derive(Debug, Clone, Copy)]
pub struct Calibration {
    pub traps: Traps,
    pub latency: crate::probes::calibrate::LatencyCalibration,
}

/// Taken once a second by the run loop.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    pub live: BTreeMap<u64, u64>,
    pub rss: Option<RssSample>,
    /// Live entries of the busiest maps, by map.
    pub map_live: HashMap<u64, u64>,
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

/// What to trace and how: built by the CLI from its flags, or by an agent
/// from its own configuration. Nothing here is about output.
#[derive(Debug, Clone)]
pub struct Config {
    pub pid: u32,
    pub mode: Mode,
    /// Sampled mode: the target's slowdown the probes may cost, percent of
    /// its CPU time, in (0, 100].
    pub max_overhead_pct: f64,
    /// Trace maps and sync.Maps.
    pub maps: bool,
    /// Go functions whose calls are timed (full names as in a stack trace).
    pub time: Vec<String>,
    /// Sites kept per report section.
    pub top: usize,
    /// On-CPU samples per second per CPU (0: no on-CPU sampling).
    pub cpu_hz: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every allocation and map operation is counted (a probe hit each).
    Exact,
    /// The runtime's own counters, split by governed sampling windows.
    Sampled,
}

/// A target checked and planned, nothing attached yet: every failure a user
/// can cause happens before this exists.
pub struct Prepared {
    config: Config,
    target: Target,
    bin: Arc<GoBinary>,
    go_minor: u32,
    plan: AllocPlan,
    timed: Vec<TimedFunc>,
    layout: &'static golayout::Layout,
    goroutine_plan: Result<probes::GoroutinePlan, UserError>,
    map_impl: golayout::MapImpl,
    sync_impl: golayout::SyncMapImpl,
    sample_plan: Option<probes::SamplePlan>,
    map_points: Vec<probes::MapPoint>,
    map_op_points: Vec<probes::MapPoint>,
    madvise_point: Option<u64>,
    lock: TargetLock,
    bias: u64,
    /// Idle priority from the start of `prepare` until the session first
    /// touches the target (`crate::background`).
    background: Option<Background>,
}

impl Session {
    /// Checks the target, its binary, the kernel and privileges, and plans
    /// the probes; attaches nothing.
    pub fn prepare(config: &Config) -> anyhow::Result<Prepared> {
        if !(config.max_overhead_pct > 0.0 && config.max_overhead_pct <= 100.0) {
            return Err(UserError::Usage("--max-overhead must be in (0, 100]".into()).into());
        }
        let background = Background::enter();
        let target = Target::open(config.pid)?;
        let bin = open_binary(&target)?;
        let go_minor = probes::go_minor(&bin)?;
        let plan = probes::alloc_plan(&bin)?;
        let timed = config
            .time
            .iter()
            .map(|f| probes::timed_func(&bin, f))
            .collect::<Result<Vec<_>, _>>()?;
        let layout = golayout::layout_for(1, go_minor).ok_or_else(|| {
            UserError::Unsupported(format!("no runtime layout for go1.{go_minor}"))
        })?;
        let goroutine_plan = probes::goroutine_plan(&bin);
        let map_impl = golayout::map_impl(layout, &bin);
        let sync_impl = golayout::sync_map_impl(layout, &bin);
        let sampled = config.mode == Mode::Sampled;
        let sample_plan = if sampled {
            Some(probes::sample_plan(&bin, &layout.alloc_stats.symbols)?)
        } else {
            None
        };
        // Sampled mode attaches no map point for good (net/http creates maps
        // per request): operations, creation and growth are watched in windows.
        let all_map_points = if config.maps {
            probes::map_plan(&bin, sync_impl)
        } else {
            Vec::new()
        };
        let (map_points, map_op_points) = if sampled {
            let light = all_map_points.into_iter().map(probes::entry_only);
            (Vec::new(), light.collect())
        } else {
            (all_map_points, Vec::new())
        };
        let madvise_point = probes::madvise_point(&bin);
        privileges::check()?;
        environment::check_kernel()?;
        environment::check_uprobes()?;
        let lock = TargetLock::acquire(&target)?;
        let bias = target.load_bias(bin.first_load_vaddr(), bin.is_pie())?;
        Ok(Prepared {
            config: config.clone(),
            target,
            bin: Arc::new(bin),
            go_minor,
            plan,
            timed,
            layout,
            goroutine_plan,
            map_impl,
            sync_impl,
            sample_plan,
            map_points,
            map_op_points,
            madvise_point,
            lock,
            bias,
            background,
        })
    }
}

impl Prepared {
    /// Loads the BPF programs, calibrates, attaches what the mode keeps
    /// attached and reads the runtime's goroutine list.
    pub fn attach(self) -> anyhow::Result<Session> {
        self.attach_calibrated(None)
    }

    /// [`attach`](Self::attach), reusing an earlier session's calibration
    /// ([`Session::calibration`]) instead of measuring the machine again
    /// (what a probe hit costs, the probe pair's latency noise): an agent
    /// attaching to one process after another saves ~2,000 probe hits of
    /// its own per attach.
    pub fn attach_calibrated(self, calibration: Option<Calibration>) -> anyhow::Result<Session> {
        let Prepared {
            config,
            target,
            bin,
            go_minor,
            plan,
            timed,
            layout,
            goroutine_plan,
            map_impl,
            sync_impl,
            sample_plan,
            map_points,
            map_op_points,
            madvise_point,
            lock,
            bias,
            background,
        } = self;
        let sampled = sample_plan.is_some();
        let attach_started = Instant::now();
        let mut probes = attach::load()?;
        let (traps, latency) = match calibration {
            Some(c) => (c.traps, c.latency),
            None => probes.calibrate_all()?,
        };
        probes.enable_stats();
        probes.configure(layout, target.pid)?;
        if sampled {
            // The verifier runs now, not in the target's first windows.
            probes.preload(attach::SAMPLE_PROGRAMS)?;
            if !map_op_points.is_empty() {
                probes.preload(attach::MAP_PROGRAMS)?;
            }
        }
        // From here on the target is touched.
        drop(background);
        if !sampled && !map_points.is_empty() {
            probes.set_config(tracer_common::config::MAPS_WATCHED, 1)?;
        }
        let (cpu, cpu_error) = match config.cpu_hz {
            0 => (None, Some("off (--cpu-hz 0)".to_string())),
            // The caller says so (`cpu_error`): the CLI on stderr, the
            // agent once, not at every slice.
            hz => match CpuSampler::start(&mut probes, hz, target.pid) {
                Ok(s) => (Some(s), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        let map_funcs = map_points
            .iter()
            .chain(&map_op_points)
            .filter_map(|p| {
                Some((
                    bin.function(&p.name)?.entry,
                    (p.cookie & tracer_common::map_cookie::OP_MASK) as u32,
                ))
            })
            .collect();
        let mut collector = Collector::new(&mut probes, timed.len(), target.pid, go_minor)?;
        if !sampled {
            probes.attach_allocs(&bin, &target.exe_path, target.pid, &plan)?;
        }
        probes.attach_timed(&bin, &target.exe_path, target.pid, &timed)?;
        probes.attach_maps(&bin, &target.exe_path, target.pid, &map_points)?;
        // Sampled mode reads the runtime's goroutine list instead (no probes).
        if let (Ok(plan), false) = (&goroutine_plan, sampled) {
            probes.attach_goroutines(&bin, &target.exe_path, target.pid, plan)?;
        }
        // Exact mode probes runtime.madvise for the initiators and cross-checks
        // with the syscalls:sys_enter_madvise tracepoint. The default mode
        // attaches neither: under churn the runtime calls madvise thousands
        // of times a second (a trap each), and a syscall tracepoint, though
        // filtered to the target in BPF, sends every syscall of every
        // process on the host through the kernel's slow path (~40 ns each
        // here; a net/http service under load lost 2.6 % of its requests).
        // It reads what the runtime released from its own counters instead.
        if !sampled {
            let syscalls = probes.attach_madvise_syscall();
            if let Err(e) = &syscalls {
                eprintln!("tracer: madvise syscall tracepoint unavailable: {e}");
            }
            match madvise_point {
                Some(addr) => probes.attach_madvise(&bin, &target.exe_path, target.pid, addr)?,
                None => collector.madvise_from_syscalls = syscalls.is_ok(),
            }
        }
        let release_advice = memory::release_advice(
            bin.build_info().setting("DefaultGODEBUG"),
            crate::tracee::start_env(target.pid, "GODEBUG").as_deref(),
        );
        // Data symbols are in `.symtab` only (the file GoBinary holds).
        let exe = bin.symtab_file();
        let inuse = InuseTracker::new(target.pid, &bin, &layout.heap_profile, exe, bias);
        let maps = MapContext {
            layout,
            map_impl,
            sync_impl,
            memory_readable: map_impl == layout.map_impl && sync_impl == layout.sync_map_impl,
            expunged: layout.sync_map.read_dirty.and_then(|r| {
                goroutines::symtab_address(exe?, r.expunged_symbol).map(|a| a + bias)
            }),
            pid: target.pid,
            probes: map_points
                .iter()
                .chain(&map_op_points)
                .map(|p| 1 + p.rets.len() as u64)
                .sum(),
            calibrated_resolution_ns: latency.spread_ns,
        };
        let memstats = {
            let mem = ProcMem::new(target.pid);
            allocstats::locate(&mem, &bin, &layout.alloc_stats, bias).ok()
        };
        let mut sample_plan = sample_plan;
        let mut inuse = inuse;
        // Default mode without the runtime's heap profile: sample objects'
        // liveness in the allocation windows.
        let frees = golayout::frees_outside_sweeper(&bin);
        // The sweepgen whose moves gate the GC watch's wakeup probe.
        let mut gc_wake = None;
        let pid = target.pid;
        if let (Some(plan), true, None) = (sample_plan.as_mut(), inuse.profile_off(), frees) {
            let mem = ProcMem::new(target.pid);
            let stats = &layout.alloc_stats;
            let base = memstats.and_then(|m| allocstats::read(&mem, stats, m).ok());
            let mheap = crate::tracee::mheap::locate_mheap(&mem, &bin, stats, exe, bias);
            match (base, mheap) {
                (Some(base), Ok(mheap)) if plan.add_liveness(&bin, &stats.symbols) => {
                    let sweepgen = mheap + stats.mheap.sweepgen;
                    probes.set_config(tracer_common::config::MHEAP_SWEEPGEN_ADDR, sweepgen)?;
                    let gcphase =
                        crate::tracee::mheap::locate_gcphase(&mem, &bin, stats, exe, bias);
                    if let Err(e) = &gcphase {
                        eprintln!("tracer: in-use sampling: {e:#}; objects whose span is swept twice between polls are dropped");
                    }
                    // Woken as each GC cycle starts while GC cycles are
                    // rare enough (the sampler attaches that probe);
                    // failing that, polling alone.
                    let ring = match probes::gc_start_point(&bin) {
                        Some(_) => probes.gc_wake_ring(),
                        None => Err("runtime.gcResetMarkState not found".into()),
                    };
                    let wake = match ring {
                        Ok(ring) => {
                            gc_wake = Some(sweepgen);
                            Some(ring)
                        }
                        Err(e) => {
                            eprintln!("tracer: in-use sampling: GC cycles not probed ({e}); the GC watch polls");
                            None
                        }
                    };
                    let l = Liveness::new(stats.mspan, sweepgen, gcphase.ok());
                    inuse.start_liveness(l, base, wake);
                    // Without it, sampled growth is not checked against the
                    // heap's (see `collect::inuse`).
                    if let Ok(c) = locate_gc_controller(&mem, &bin, layout, exe, bias) {
                        inuse.heap_marked_at(c + layout.pacer.heap_marked);
                    }
                }
                (_, Err(e)) => {
                    eprintln!("tracer: in-use sampling unavailable: {e:#}");
                    inuse.no_liveness(format!("sampled object liveness unavailable: {e:#}"));
                }
                _ => inuse.no_liveness(
                    "sampled object liveness unavailable: allocation counters or span functions not found"
                        .into(),
                ),
            }
        }
        if sample_plan.is_none() && inuse.profile_off() {
            inuse.no_liveness(
                "sampled object liveness runs in the default mode only (--mode sampled)".into(),
            );
        }
        if let (Some(e), true) = (frees, inuse.profile_off()) {
            inuse.no_liveness(format!(
                "sampled object liveness refused: GOEXPERIMENT={e} frees objects outside the GC's sweeper, \
                 so a slot's allocation bit no longer tells whether a sampled object lived"
            ));
        }
        let attached = probes.attached;
        let target_cpus = cpus::allowed_cpus(target.pid)
            .or_else(|| cpus::online_cpus().ok())
            .unwrap_or_default();
        let mut session = Session {
            target_cpus,
            symbolizer: Symbolizer::new(Arc::clone(&bin), bias),
            target,
            bin,
            go_minor,
            plan,
            timed,
            traps,
            attach_ns: attach_started.elapsed().as_nanos() as u64,
            collector,
            layout,
            goroutines_listed: false,
            go_snapshots: None,
            samples: Vec::new(),
            maps,
            top: config.top,
            cpu,
            cpu_error,
            inuse,
            map_funcs,
            latency,
            last_cpu_ns: None,
            released: memory::ReleaseCounter::default(),
            release_advice,
            rollup: memory::RollupPacer::default(),
            call_cache: HashMap::new(),
            sampling: sample_plan.map(|plan| {
                let mut s = SampledState::new(plan, map_op_points, config.max_overhead_pct);
                if let Some(sweepgen) = gc_wake {
                    s.gate_gc_wake(ProcMem::new(pid), sweepgen);
                }
                s
            }),
            memstats,
            probes: Some(probes),
            attached,
            _lock: lock,
        };
        session.goroutines_listed =
            (sampled || goroutine_plan.is_ok()) && session.list_goroutines(bias);
        Ok(session)
    }
}

impl Session {
    /// This session's calibration, for the next attach.
    pub fn calibration(&self) -> Calibration {
        Calibration {
            traps: self.traps,
            latency: self.latency,
        }
    }

    /// Probe points attached at the start.
    pub fn attached(&self) -> usize {
        self.attached
    }

    /// How allocations are counted, in words (the "attached" line).
    pub fn scheme(&self) -> &str {
        if self.sampling.is_some() {
            "sampled: runtime counters; span refills + large objects (and map operations) \
             in governed windows only"
        } else {
            &self.plan.scheme
        }
    }

    /// Probe links still attached.
    pub fn links(&self) -> usize {
        self.probes.as_ref().map_or(0, |p| p.links())
    }

    /// Removes every probe (~0.1 s per probe: RCU grace periods, serialized
    /// in the kernel) and releases the target.
    pub fn detach(mut self) {
        drop(self.probes.take());
    }
}

impl Session {
    pub fn mark(&mut self) -> Mark {
        // Sampled mode: goroutines as of a fresh reading of the runtime's list.
        if let Some(snapshots) = self.go_snapshots.as_mut() {
            let agg = &mut self.collector.agg;
            snapshots.refresh(&mut agg.goroutines, &agg.system_starts, MARK_MAX_AGE);
        }
        let cpu_ns = self.poll_runtime();
        let sampled = self.sampling.as_ref().map(SampledState::mark);
        Mark {
            at: Instant::now(),
            unix_ns: unix_ns(),
            counts: self.collector.alloc_counts(),
            counters: self.collector.counters(),
            cpu_ns: cpu_ns.unwrap_or(0),
            tracer_cpu_ns: crate::cputime::process_cpu_time().as_nanos() as u64,
            latencies: self.collector.agg.latencies.clone(),
            go_sites: self.collector.agg.goroutines.sites.clone(),
            goidgen: self.go_snapshots.as_ref().and_then(|s| s.goidgen()),
            madvise: self.collector.agg.madvise.clone(),
            released_bytes: self.released.total,
            map_ops: self.map_ops(),
            sampled,
            bpf: self.probes.as_ref().map_or((0, 0), |p| p.uprobe_stats()),
            cpu_bpf: self
                .probes
                .as_ref()
                .map_or((0, 0), |p| p.cpu_sample_stats()),
            gc_wake_bpf: self.probes.as_ref().map_or((0, 0), |p| p.gc_wake_stats()),
            map_watch: self
                .sampling
                .as_ref()
                .map_or(Duration::ZERO, |s| s.map_watch),
            cpu: self
                .cpu
                .as_ref()
                .map(CpuSampler::counts)
                .unwrap_or_default(),
        }
    }

    /// Reads the target's CPU time (a target that has exited keeps the
    /// last one read) and, in sampled mode, hands it with the runtime's
    /// allocation counters to the sampler. Returns the CPU time.
    fn poll_runtime(&mut self) -> Option<u64> {
        let read_at = Instant::now();
        let cpu_ns = self.target.cpu_time_ns().or(self.last_cpu_ns);
        self.last_cpu_ns = cpu_ns;
        if self.sampling.is_some() {
            let runtime = self.runtime_counters();
            if let Some(c) = &runtime {
                self.released.observe(c.committed_bytes);
            }
            if let Some(s) = self.sampling.as_mut() {
                s.poll(runtime, cpu_ns.map(|c| (read_at, c)), self.traps);
            }
        }
        cpu_ns
    }

    fn runtime_counters(&self) -> Option<AllocCounters> {
        let mem = ProcMem::new(self.target.pid);
        allocstats::read(&mem, &self.layout.alloc_stats, self.memstats?).ok()
    }

    /// When the sampler's next poll, open or close is due (sampled mode).
    pub fn sampler_due(&self) -> Option<tokio::time::Instant> {
        self.sampling.as_ref().map(SampledState::due)
    }

    /// How many CPUs the target kept busy lately, as the sampler measured.
    pub fn sampler_cores(&self) -> Option<f64> {
        self.sampling.as_ref().and_then(|s| s.recent_cores)
    }

    /// With `TRACER_DEBUG_CPU_TOGGLE` set, the on-CPU sampling's perf
    /// events are stopped and restarted every [`CPU_TOGGLE_MS`], each switch
    /// printed ("<unix ms> cpu on|off"): the bench lays a load generator's
    /// pace over them to measure what the sampling costs.
    fn debug_cpu_toggle(&mut self) {
        static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if !*ON.get_or_init(|| std::env::var_os("TRACER_DEBUG_CPU_TOGGLE").is_some()) {
            return;
        }
        let (Some(probes), Some(_)) = (self.probes.as_mut(), self.cpu.as_ref()) else {
            return;
        };
        let now = unix_ns() / 1_000_000;
        let on = (now / CPU_TOGGLE_MS).is_multiple_of(2);
        if probes.cpu_sampling() != on {
            if let Err(e) = probes.set_cpu_sampling(on) {
                eprintln!("tracer: on-CPU sampling toggle: {e}");
            }
            eprintln!("{now} cpu {}", if on { "on" } else { "off" });
        }
    }

    /// Reads the runtime's counters when due; opens or closes the sampling
    /// windows that are due.
    pub fn sampler_step(&mut self) {
        if self.sampling.as_ref().is_some_and(SampledState::poll_due) {
            self.poll_runtime();
            // Every GC must be seen to tell a sampled object's fate.
            self.inuse.check(&mut self.collector.agg.live);
        }
        let Session {
            sampling,
            probes,
            bin,
            target,
            collector,
            traps,
            ..
        } = self;
        if let (Some(s), Some(probes)) = (sampling.as_mut(), probes.as_mut()) {
            s.step(&mut sampling::Ctx {
                probes,
                bin,
                exe: &target.exe_path,
                pid: target.pid,
                collector,
                traps: *traps,
            });
        }
    }

    /// Map operation counts now, sync.Map Store/Delete told from Swap /
    /// LoadAndDelete by the inline tree at their call sites.
    fn map_ops(&mut self) -> map_report::MapMark {
        let Session {
            symbolizer,
            collector,
            call_cache,
            ..
        } = self;
        map_report::resolve_ops(&collector.agg.maps, &mut |pc, suffix| {
            *call_cache.entry((pc, suffix)).or_insert_with(|| {
                symbolizer
                    .stack(&[pc])
                    .frames
                    .first()
                    .is_some_and(|f| f.function.ends_with(suffix))
            })
        })
    }

    pub fn report(&mut self, kind: &'static str, from: &Mark, to: &Mark, exited: bool) -> Report {
        let secs = to.at.duration_since(from.at).as_secs_f64();
        let counters = to.counters.since(&from.counters);
        let raw = allocs::delta(&to.counts, &from.counts);
        let bpf_ns_per_hit = ns_per_run(from.bpf, to.bpf);
        let cpu_ns = to.cpu_ns.saturating_sub(from.cpu_ns);
        let (counts, sampling, unattributed, probe_ns) =
            match (&self.sampling, &from.sampled, &to.sampled) {
                (Some(s), Some(a), Some(b)) => {
                    let elapsed = to.at.duration_since(from.at);
                    let w = s.window_counts(
                        (a, b),
                        &counters,
                        raw,
                        (elapsed, cpu_ns),
                        self.traps,
                        ns_per_run(from.gc_wake_bpf, to.gc_wake_bpf),
                    );
                    (w.counts, Some(w.sampling), w.unattributed, w.probe_ns)
                }
                _ => {
                    let probe_ns = self.traps.cost(counters.probe_hits, counters.stepped_hits)
                        + counters.probe_hits as f64 * bpf_ns_per_hit.unwrap_or(0.0);
                    (raw, None, Default::default(), probe_ns)
                }
            };
        // The on-CPU sampler's program runs on the target's CPUs at every
        // sample (the target's own and, returning at once, the others').
        let probe_ns = probe_ns + to.cpu_bpf.0.saturating_sub(from.cpu_bpf.0) as f64;
        let (cpu, cpu_stacks, map_op_cpu) = self.cpu_profile(from, to, &counters);
        let Session {
            symbolizer,
            collector,
            ..
        } = self;
        // by_site and by_stack ask for the same stacks: read and symbolize each once.
        let mut stacks: HashMap<u64, Option<Symbolized>> = HashMap::new();
        let mut stack_of = |id: u64| {
            if id == 0 {
                return None;
            }
            stacks
                .entry(id)
                .or_insert_with(|| collector.stack(id).map(|s| symbolizer.stack(s.frames())))
                .clone()
        };
        let (mut allocations, mut allocation_totals) =
            allocs::by_site(&counts, self.go_minor, secs, &mut stack_of);
        // The totals are the runtime's: what no window saw is in them too.
        allocation_totals.objects += unattributed.objects;
        allocation_totals.bytes += unattributed.bytes;
        allocation_totals.slot_bytes += unattributed.bytes;
        let alloc_stacks = allocs::by_stack(&counts, &mut stack_of);
        let map_series = map_live_series(&self.samples, from, to);
        // Sampled mode sees operations only while it watches them.
        let watched = self
            .sampling
            .as_ref()
            .map(|_| to.map_watch.saturating_sub(from.map_watch).as_secs_f64());
        let mut built = map_report::build(
            &self.maps,
            &collector.agg.maps,
            &from.map_ops,
            &to.map_ops,
            watched.unwrap_or(secs),
            watched.is_some(),
            self.top,
            &map_series,
            &mut stack_of,
        );
        if let Some(c) = &self.cpu {
            map_cost::fill(
                &mut built.maps,
                &collector.agg.maps,
                &map_op_cpu,
                c.period_ns,
                built.totals.latency_resolution_ns,
            );
        }
        let counters_now = self.runtime_counters();
        let inuse = self.inuse.build(
            Inputs {
                symbolizer: &mut self.symbolizer,
                collector: &self.collector,
                counters: counters_now,
            },
            self.top,
        );
        if inuse.report.source.is_some() {
            for a in &mut allocations {
                let (objects, bytes) = inuse.by_site.get(&a.site).copied().unwrap_or_default();
                a.inuse_objects = Some(objects);
                a.inuse_bytes = Some(bytes);
            }
        }
        let (goroutines, goroutine_totals) = self.goroutine_sites(from, to);
        let madvise = self.madvise_report(from, to);
        let mut findings = self.findings(from, to, &madvise);
        findings.extend(built.findings);
        findings.extend(inuse.findings);
        let tracer_cpu_ns = to.tracer_cpu_ns.saturating_sub(from.tracer_cpu_ns);
        let tracer_taken_ns = self.tracer_taken_ns(tracer_cpu_ns, cpu_ns, secs);
        // Without the tracer the target would have had its threads' time
        // too: `probe_ns + taken` of `cpu_ns + taken` lost to its own work.
        let slowdown = slowdown(
            probe_ns + tracer_taken_ns,
            (cpu_ns as f64) + tracer_taken_ns,
        );
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
                mode: if sampling.is_some() {
                    "sampled"
                } else {
                    "exact"
                },
                sample_rate: sampling
                    .as_ref()
                    .map_or(1, |s| (s.sampled_objects / s.samples.max(1)).max(1)),
                alloc_probes: self.plan.scheme.clone(),
                attach_ns: self.attach_ns,
                sampling,
                inuse_source: inuse.report.source,
            },
            overhead: Overhead {
                probe_hits: counters.probe_hits,
                lost_events: counters.lost,
                stack_drops: counters.stack_drops,
                stacks_truncated: counters.stack_truncated,
                cost_per_hit_ns: self.traps.emulated_ns,
                stepped_hit_ns: self.traps.stepped_ns,
                stepped_hits: counters.stepped_hits,
                bpf_ns_per_hit,
                est_target_slowdown_pct: slowdown.0,
                est_target_slowdown_lower_bound: slowdown.1,
                probe_ns: probe_ns as u64,
                target_cpu_ns: cpu_ns,
                tracer_cpu_ns,
                tracer_taken_ns: tracer_taken_ns as u64,
                tracer_max_rss_bytes: max_rss_bytes(),
            },
            allocations,
            allocation_totals,
            unattributed,
            functions: self.function_latencies(from, to),
            goroutines,
            goroutine_totals,
            madvise,
            map_sites: built.sites,
            maps: built.maps,
            map_totals: built.totals,
            cpu,
            inuse: inuse.report,
            findings,
            alloc_stacks,
            cpu_stacks,
            inuse_stacks: inuse.stacks,
        }
    }
}

/// BPF run time per run between two readings of (run time ns, runs);
/// `None` without a run.
fn ns_per_run(from: (u64, u64), to: (u64, u64)) -> Option<f64> {
    let runs = to.1.saturating_sub(from.1);
    (runs > 0).then(|| to.0.saturating_sub(from.0) as f64 / runs as f64)
}

impl Session {
    /// Of `tracer_ns` of the tracer's CPU time over a report window of
    /// `secs` in which the target used `target_ns`, what it took from the
    /// target ([`cputime::taken_from_target`]): the share of the tracer's
    /// CPUs that the target may use, at the share of those the target kept
    /// busy.
    fn tracer_taken_ns(&self, tracer_ns: u64, target_ns: u64, secs: f64) -> f64 {
        let Some(own) = cpus::allowed_cpus(std::process::id()) else {
            return 0.0;
        };
        let shared = own.iter().filter(|c| self.target_cpus.contains(c)).count();
        let overlap = shared as f64 / own.len() as f64;
        let busy = target_ns as f64 / 1e9 / secs.max(1e-9) / self.target_cpus.len().max(1) as f64;
        crate::cputime::taken_from_target(tracer_ns as f64, overlap, busy)
    }

    /// The window's on-CPU samples, and the CPU of each map operation's
    /// call sites since attach (for `cost_ns`).
    fn cpu_profile(
        &mut self,
        from: &Mark,
        to: &Mark,
        counters: &Counters,
    ) -> (Option<CpuReport>, Vec<CpuStack>, cpu::MapOpsCpu) {
        let Some(sampler) = &self.cpu else {
            return (None, Vec::new(), Default::default());
        };
        let mut stack_of = |id: u32| sampler.stack(id);
        let window = cpu::delta(&to.cpu, &from.cpu);
        // One read names the code outside the executable and finds the
        // probes' single-step page (empty when it cannot be read).
        let maps =
            std::fs::read_to_string(format!("/proc/{}/maps", self.target.pid)).unwrap_or_default();
        self.symbolizer
            .set_regions(crate::tracee::symbolize::regions(
                &maps,
                &self.target.exe_path.to_string_lossy(),
            ));
        let params = cpu::Params {
            hz: sampler.hz,
            period_ns: sampler.period_ns,
            probe_page: cpu::probe_page(&maps),
            stack_drops: counters.cpu_stack_drops,
            top: self.top,
        };
        let built = cpu::build(&window, params, &mut self.symbolizer, &mut stack_of);
        let ops = cpu::map_ops(
            &to.cpu,
            sampler.period_ns,
            params.probe_page,
            &self.symbolizer,
            &self.map_funcs,
            &mut stack_of,
        );
        (Some(built.report), built.stacks, ops)
    }

    fn function_latencies(&self, from: &Mark, to: &Mark) -> Vec<FuncLatency> {
        self.timed
            .iter()
            .zip(to.latencies.iter().zip(&from.latencies))
            .map(|(f, (now, base))| {
                let mut h = now.clone();
                let _ = h.subtract(base);
                let resolution_ns = Latency::resolution_for(self.latency.spread_ns);
                FuncLatency {
                    function: f.name.clone(),
                    calls: h.len(),
                    latency_ns: Latency::resolved(&percentiles(&h), resolution_ns),
                }
            })
            .collect()
    }
}

impl Session {
    /// Reads the runtime's goroutine list once (read-only) so goroutines
    /// that existed before attach are counted by their `go` statement. The
    /// probes are attached first; one created meanwhile is seen twice and
    /// counted once (by goid).
    fn list_goroutines(&mut self, bias: u64) -> bool {
        self.collector.agg.system_starts = SystemStarts::new(&self.bin, bias);
        let mem = ProcMem::new(self.target.pid);
        let agg = &mut self.collector.agg;
        let listed = goroutines::snapshot::list_at_attach(
            mem,
            &self.bin,
            self.layout,
            bias,
            &mut agg.goroutines,
            &agg.system_starts,
        );
        match listed {
            Ok(snapshots) => {
                // Sampled mode re-reads the list instead of probing.
                if self.sampling.is_some() {
                    self.go_snapshots = Some(snapshots);
                }
                true
            }
            Err(e) if self.sampling.is_some() => {
                eprintln!("tracer: goroutines are not counted: {e}");
                false
            }
            Err(e) => {
                eprintln!("tracer: goroutines that existed before attach are not counted: {e}");
                false
            }
        }
    }

    /// What the live goroutines of each site wait on, read from their `g`
    /// (at most 256 per site, read-only), in one pass over all of them.
    fn blocked_on_by_site(&self) -> HashMap<u64, BTreeMap<String, u64>> {
        const PER_SITE: u64 = 256;
        let mem = ProcMem::new(self.target.pid);
        let g = &self.layout.g;
        let mut read: HashMap<u64, u64> = HashMap::new();
        let mut out: HashMap<u64, BTreeMap<String, u64>> = HashMap::new();
        for live in self
            .collector
            .agg
            .goroutines
            .live
            .values()
            .filter(|l| !l.system)
        {
            let n = read.entry(live.gopc).or_default();
            if *n >= PER_SITE {
                continue;
            }
            *n += 1;
            let (Ok(status), Ok(reason)) = (
                mem.read_u32(live.g + g.atomicstatus),
                mem.read_u8(live.g + g.waitreason),
            ) else {
                continue;
            };
            let state = match status & !g.status.scan {
                s if s == g.status.waiting => self.layout.wait_reasons.name(reason).to_string(),
                s if s == g.status.running => "running".to_string(),
                s if s == g.status.runnable => "runnable".to_string(),
                s if s == g.status.syscall => "syscall".to_string(),
                _ => continue,
            };
            *out.entry(live.gopc).or_default().entry(state).or_default() += 1;
        }
        out
    }

    /// Once a second: live goroutines per site and RSS, for the leak
    /// finding and the RSS timeline. The caller has just drained the ring
    /// buffer.
    pub fn sample(&mut self) {
        self.debug_cpu_toggle();
        if self
            .samples
            .last()
            .is_some_and(|s| s.at.elapsed() < Duration::from_millis(950))
        {
            return;
        }
        if let Some(snapshots) = self.go_snapshots.as_mut() {
            let agg = &mut self.collector.agg;
            snapshots.refresh(&mut agg.goroutines, &agg.system_starts, SAMPLE_MAX_AGE);
        }
        let counters = self.runtime_counters();
        self.inuse.poll(Inputs {
            symbolizer: &mut self.symbolizer,
            collector: &self.collector,
            counters,
        });
        self.samples.push(Sample {
            at: Instant::now(),
            live: self.collector.agg.goroutines.live_by_site(),
            map_live: self.busiest_maps_live(),
            rss: self.rollup.read(self.target.pid).map(rss_sample),
        });
    }

    /// `len(m)` of the 64 busiest maps, from their headers.
    fn busiest_maps_live(&self) -> HashMap<u64, u64> {
        let mem = ProcMem::new(self.target.pid);
        let mut busy: Vec<(u64, u64)> = self
            .collector
            .agg
            .maps
            .maps
            .iter()
            .filter(|(_, m)| !m.sync)
            .map(|(id, m)| (m.ops.values().sum::<u64>(), *id))
            .collect();
        busy.sort_unstable_by(|a, b| b.cmp(a));
        busy.iter()
            .take(64)
            .filter_map(|&(_, id)| Some((id, map_report::live_now(&mem, id)?)))
            .collect()
    }

    fn window_samples<'s>(
        &'s self,
        from: &Mark,
        to: &Mark,
    ) -> impl Iterator<Item = &'s Sample> + 's {
        let (a, b) = (from.at, to.at);
        self.samples.iter().filter(move |s| s.at >= a && s.at <= b)
    }

    fn site_frame(&mut self, pc: u64) -> Frame {
        let start = self.collector.agg.goroutines.sites.get(&pc);
        let startpc = start.map_or(0, |s| s.startpc);
        goroutines::site_frame(&mut self.symbolizer, &self.bin, pc, startpc)
    }

    fn goroutine_sites(&mut self, from: &Mark, to: &Mark) -> (Vec<GoroutineSite>, GoroutineTotals) {
        let live = self.collector.agg.goroutines.live_by_site();
        let mut totals = GoroutineTotals {
            pre_existing_unknown: !self.goroutines_listed,
            system: self.collector.agg.goroutines.system_live(),
            source: match (&self.go_snapshots, &self.sampling) {
                (Some(_), _) => "snapshots",
                (None, Some(_)) => "none",
                (None, None) => "probes",
            },
            snapshots: self
                .go_snapshots
                .as_ref()
                .map(|s| s.report(from.goidgen, to.goidgen)),
            ..Default::default()
        };
        let sites: Vec<(u64, SiteCounts)> = to.go_sites.iter().map(|(k, v)| (*k, *v)).collect();
        let mut blocked = self.blocked_on_by_site();
        let mut out = Vec::new();
        for (pc, now) in sites {
            let base = from.go_sites.get(&pc).copied().unwrap_or_default();
            let site = GoroutineSite {
                created_at: self.site_frame(pc),
                created: now.created - base.created,
                exited: now.exited - base.exited,
                live: live.get(&pc).copied().unwrap_or(0),
                pre_existing: now.pre_existing,
                blocked_on: blocked.remove(&pc).unwrap_or_default(),
            };
            totals.live += site.live;
            totals.created += site.created;
            totals.exited += site.exited;
            totals.pre_existing += site.pre_existing;
            if site.live > 0 || site.created > 0 || site.exited > 0 {
                out.push(site);
            }
        }
        out.sort_by(|a, b| b.live.cmp(&a.live).then(b.created.cmp(&a.created)));
        (out, totals)
    }

    fn madvise_report(&mut self, from: &Mark, to: &Mark) -> MadviseReport {
        let timeline: Vec<RssSample> = self
            .window_samples(from, to)
            .filter_map(|s| s.rss)
            .collect();
        // The figures as of now when a walk is cheap (a report may come
        // just after a release the timeline's last sample predates), else
        // as of that sample.
        let last = self
            .rollup
            .read_if_cheap(self.target.pid)
            .map(rss_sample)
            .or(timeline.last().copied());
        let rss = MadviseReport {
            rss_bytes: last.map_or(0, |s| s.rss_bytes),
            anon_bytes: last.map_or(0, |s| s.anon_bytes),
            lazyfree_bytes: last.map_or(0, |s| s.lazyfree_bytes),
            timeline,
            ..MadviseReport::default()
        };
        if self.sampling.is_some() {
            // No probe: the runtime's released bytes, under the advice its
            // GODEBUG selects; calls are not counted.
            let bytes = to.released_bytes.saturating_sub(from.released_bytes);
            let by_advice = (bytes > 0)
                .then(|| {
                    let v = CallsBytes { calls: None, bytes };
                    (self.release_advice.to_string(), v)
                })
                .into_iter()
                .collect();
            return MadviseReport {
                source: "runtime",
                by_advice,
                ..rss
            };
        }
        let window = to.madvise.since(&from.madvise);
        let by_advice = window
            .by_advice
            .iter()
            .map(|(a, v)| {
                (
                    advice_name(*a),
                    CallsBytes {
                        calls: Some(v.calls),
                        bytes: v.bytes,
                    },
                )
            })
            .collect();
        let mut callers: Vec<MadviseCaller> = Vec::new();
        for ((advice, stack_id), v) in &window.by_caller {
            let caller = self
                .collector
                .stack(*stack_id)
                .map(|s| self.symbolizer.stack(s.frames()).frames)
                .unwrap_or_default()
                .into_iter()
                .map(|f| f.function)
                .filter(|f| f != "runtime.madvise" && !f.starts_with("runtime.sys"))
                .collect::<Vec<_>>();
            let caller = caller_chain(&caller);
            let advice = advice_name(*advice);
            match callers
                .iter_mut()
                .find(|c| c.advice == advice && c.caller == caller)
            {
                Some(c) => {
                    c.calls += v.calls;
                    c.bytes += v.bytes;
                }
                None => callers.push(MadviseCaller {
                    advice,
                    caller,
                    calls: v.calls,
                    bytes: v.bytes,
                }),
            }
        }
        callers.sort_by_key(|c| std::cmp::Reverse(c.bytes));
        let counters = to.counters.since(&from.counters);
        MadviseReport {
            source: "probes",
            syscall_calls: Some(counters.madvise_syscalls),
            syscall_bytes: Some(counters.madvise_syscall_bytes),
            by_advice,
            callers,
            ..rss
        }
    }

    fn findings(&mut self, from: &Mark, to: &Mark, madvise: &MadviseReport) -> Vec<Finding> {
        // Live count per site over the window, for the sites alive at its end.
        let mut per_site: BTreeMap<u64, Vec<(f64, u64)>> = BTreeMap::new();
        let samples: Vec<&Sample> = self.window_samples(from, to).collect();
        if let Some(last) = samples.last() {
            for &pc in last.live.keys() {
                let series = samples
                    .iter()
                    .map(|s| {
                        (
                            s.at.duration_since(from.at).as_secs_f64(),
                            s.live.get(&pc).copied().unwrap_or(0),
                        )
                    })
                    .collect();
                per_site.insert(pc, series);
            }
        }
        let mut out = Vec::new();
        // The report's own figures (fresh when a walk is cheap).
        let rollup = SmapsRollup {
            rss: madvise.rss_bytes,
            anonymous: madvise.anon_bytes,
            lazy_free: madvise.lazyfree_bytes,
            ..SmapsRollup::default()
        };
        let bytes = |a: &str| madvise.by_advice.get(a).map_or(0, |c| c.bytes);
        if let Some(message) =
            madv_free_finding(&rollup, bytes("MADV_FREE"), bytes("MADV_DONTNEED"))
        {
            out.push(Finding {
                kind: "madv_free_rss",
                severity: "warn",
                site: None,
                message,
            });
        }
        for (pc, series) in per_site {
            if let Some(rate) = leak_rate(&series) {
                let (first, last) = (series[0].1, series[series.len() - 1].1);
                let site = self.site_frame(pc);
                out.push(Finding {
                    kind: "goroutine_leak",
                    severity: if rate >= 10.0 { "critical" } else { "warn" },
                    message: format!(
                        "goroutines created at {} ({}:{}) only grow: {} → {} live over {:.0} s (+{:.1}/s), none of them exit",
                        site.function,
                        site.file,
                        site.line,
                        first,
                        last,
                        series[series.len() - 1].0 - series[0].0,
                        rate
                    ),
                    site: Some(site),
                });
            }
        }
        out
    }
}

/// Live entries per map over the window, from the once-a-second samples.
fn map_live_series(samples: &[Sample], from: &Mark, to: &Mark) -> HashMap<u64, Vec<(f64, u64)>> {
    let mut out: HashMap<u64, Vec<(f64, u64)>> = HashMap::new();
    for s in samples.iter().filter(|s| s.at >= from.at && s.at <= to.at) {
        let t = s.at.duration_since(from.at).as_secs_f64();
        for (id, live) in &s.map_live {
            out.entry(*id).or_default().push((t, *live));
        }
    }
    out
}

/// "releaser ← … ← initiator": the frame that released the memory and
/// what asked for it: the first frame outside package runtime (e.g.
/// runtime/debug.FreeOSMemory, or program code), else the outermost
/// runtime frame (bgscavenge, the GC…; where the frame chain ends at the
/// system stack, its entry, e.g. runtime_debug_freeOSMemory.func1).
fn caller_chain(frames: &[String]) -> String {
    let outside = frames
        .iter()
        .position(|f| symbolize::package_of(f) != "runtime");
    let initiator = outside.or_else(|| {
        frames
            .iter()
            .rposition(|f| f != "runtime.goexit" && f != "runtime.mstart")
    });
    match (frames.first(), initiator) {
        (Some(first), Some(i)) if i > 1 => format!("{first} ← … ← {}", frames[i]),
        _ => frames[..initiator.map_or(frames.len(), |i| i + 1)].join(" ← "),
    }
}

/// Peak RSS of this process (getrusage, KiB on Linux).
fn max_rss_bytes() -> u64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0;
    }
    ru.ru_maxrss.max(0) as u64 * 1024
}

/// Now, in ns since the epoch.
/// A rollup read now, as a point of the RSS timeline.
fn rss_sample(r: SmapsRollup) -> RssSample {
    RssSample {
        unix_ns: unix_ns(),
        rss_bytes: r.rss,
        anon_bytes: r.anonymous,
        lazyfree_bytes: r.lazy_free,
    }
}

pub fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
