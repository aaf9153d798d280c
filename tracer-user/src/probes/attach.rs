//! Loading the BPF object, attaching uprobes, and measuring what one probe
//! hit costs on this machine. Dropping `Probes` detaches everything (the
//! links are file descriptors: even a SIGKILLed tracer leaves nothing).
use std::{borrow::Cow, num::NonZeroU32, os::fd::OwnedFd, path::Path};

use aya::{
    programs::{
        uprobe::{UProbeAttachLocation, UProbeAttachPoint, UProbeLink, UProbeScope},
        ProgramError, TracePoint, UProbe,
    },
    sys::{is_uprobe_multi_supported, UProbeMultiFeature},
    Ebpf,
};

use crate::{
    error::UserError,
    probes::{AllocPlan, GoroutinePlan, MapPoint, SamplePlan, TimedFunc},
    tracee::gobin::GoBinary,
};

/// A probe point of the target at link-time address `addr`; its cookie
/// gains `COOKIE_STEPPED` unless the kernel emulates the instruction there.
pub(super) fn point<'a>(
    bin: &GoBinary,
    program: &'static str,
    addr: u64,
    cookie: u64,
    what: &'a str,
) -> Result<Point<'a>, UserError> {
    let emulated = bin
        .text_bytes(addr, 15)
        .or_else(|| bin.text_bytes(addr, 1))
        .is_some_and(crate::tracee::disasm::emulated);
    Ok(Point {
        program,
        offset: file_offset(bin, addr, what)?,
        cookie: if emulated {
            cookie
        } else {
            cookie | tracer_common::COOKIE_STEPPED
        },
        what,
    })
}

static BPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer-ebpf.o"));

pub(super) const ALLOC_PROGRAM: &str = "malloc_entry";
const FUNC_ENTRY_PROGRAM: &str = "func_entry";
const FUNC_EXIT_PROGRAM: &str = "func_exit";
const GO_CREATED_PROGRAM: &str = "go_created";
const GO_EXITED_PROGRAM: &str = "go_exited";
const MADVISE_PROGRAM: &str = "madvise_entry";
const MADVISE_SYSCALL_PROGRAM: &str = "madvise_syscall";
pub(super) const BARE_PROGRAM: &str = "bare_count";
const MAP_ENTRY_PROGRAM: &str = "map_op_entry";
const MAP_EXIT_PROGRAM: &str = "map_op_exit";
const SAMPLE_PROGRAM: &str = "alloc_sample";
const LIVE_PROGRAM: &str = "live_sample";
const BENCH_PROGRAM: &str = "bench_emit";
/// The programs of each windowed group (for their BPF run-time statistics).
pub const SAMPLE_PROGRAMS: &[&str] = &[SAMPLE_PROGRAM, LIVE_PROGRAM];
pub const MAP_PROGRAMS: &[&str] = &[MAP_ENTRY_PROGRAM, MAP_EXIT_PROGRAM];

pub struct Probes {
    pub ebpf: Ebpf,
    /// Probe points attached.
    pub attached: usize,
    /// Every uprobe link (one uprobe_multi link per program and call on
    /// Linux ≥ 6.6, else a perf-event uprobe per point behind one handle),
    /// owned here so that a sampling window can be closed on its own. A
    /// handle is an index.
    pub(super) links: Vec<Option<(UProbeLink, usize)>>,
    /// Holds the kernel's BPF statistics on (see `enable_stats`).
    stats: Option<OwnedFd>,
    /// The on-CPU sampling's perf events (see `attach_cpu_sampling`).
    pub(super) cpu: Option<super::oncpu::CpuEvents>,
}

/// An attached group of probes, for `Probes::close_samples`.
pub type LinkHandle = usize;

/// One probe: a program at a file offset, with its cookie.
pub(super) struct Point<'a> {
    pub program: &'static str,
    pub offset: u64,
    pub cookie: u64,
    pub what: &'a str,
}

impl Probes {
    /// Probe points still attached.
    pub fn links(&self) -> usize {
        self.links.iter().flatten().map(|(_, n)| n).sum()
    }
}

const UPROBE_PROGRAMS: [&str; 14] = [
    super::calibrate::CALIBRATION_PROGRAMS[0],
    super::calibrate::CALIBRATION_PROGRAMS[1],
    ALLOC_PROGRAM,
    FUNC_ENTRY_PROGRAM,
    FUNC_EXIT_PROGRAM,
    GO_CREATED_PROGRAM,
    GO_EXITED_PROGRAM,
    MADVISE_PROGRAM,
    BARE_PROGRAM,
    MAP_ENTRY_PROGRAM,
    MAP_EXIT_PROGRAM,
    SAMPLE_PROGRAM,
    LIVE_PROGRAM,
    super::gcwake::PROGRAM,
];

pub fn load() -> Result<Probes, UserError> {
    if BPF_OBJECT.is_empty() {
        return Err(UserError::Unsupported(
            "this tracer binary was built without its BPF programs; build it with `cargo xtask build`".into(),
        ));
    }
    bump_memlock_rlimit();
    let multi = is_uprobe_multi_supported(UProbeMultiFeature::LinkCreation).unwrap_or(false);
    let object = if multi {
        Cow::Borrowed(BPF_OBJECT)
    } else {
        Cow::Owned(single_uprobes(BPF_OBJECT))
    };
    let ebpf = Ebpf::load(&object).map_err(|e| kernel_error("loading the BPF object", &e))?;
    // Each program is verified and loaded when first attached: the default
    // mode needs three of the ten, and loading them all cost the start
    // tens of ms of CPU on a busy host.
    Ok(Probes {
        ebpf,
        attached: 0,
        links: Vec::new(),
        stats: None,
        cpu: None,
    })
}

/// The BPF object with its `uprobe.multi` sections named `uprobe` (the
/// name ends at the NUL), for kernels before 6.6: aya then loads each
/// program for perf-event uprobes, one per point.
fn single_uprobes(object: &[u8]) -> Vec<u8> {
    const MULTI: &[u8] = b"uprobe.multi";
    let mut out = object.to_vec();
    let mut i = 0;
    while let Some(at) = out[i..].windows(MULTI.len()).position(|w| w == MULTI) {
        out[i + at + "uprobe".len()] = 0;
        i += at + MULTI.len();
    }
    out
}

/// Program `name`, loaded (verified) on first use.
fn loaded<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut UProbe, UserError> {
    debug_assert!(UPROBE_PROGRAMS.contains(&name));
    let prog = program(ebpf, name)?;
    if prog.fd().is_err() {
        prog.load()
            .map_err(|e| kernel_error(&format!("loading {name}"), &e))?;
    }
    Ok(prog)
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut UProbe, UserError> {
    ebpf.program_mut(name)
        .ok_or_else(|| UserError::Kernel(format!("program {name} missing from the BPF object")))?
        .try_into()
        .map_err(|e| UserError::Kernel(format!("{name}: {e}")))
}

fn kernel_error(what: &str, e: &dyn std::error::Error) -> UserError {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    if msg.contains("Operation not permitted")
        || msg.contains("EPERM")
        || msg.contains("Permission denied")
    {
        return UserError::Permission(format!("{what}: {msg}"));
    }
    UserError::Kernel(format!("{what}: {msg}"))
}

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK.
fn bump_memlock_rlimit() {
    let r = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &r) };
}

/// A link-time address of the target's executable as a file offset.
fn file_offset(bin: &GoBinary, addr: u64, what: &str) -> Result<u64, UserError> {
    bin.vaddr_to_file_offset(addr).ok_or_else(|| {
        UserError::Unsupported(format!(
            "{what} at {addr:#x} is outside the file's segments"
        ))
    })
}

impl Probes {
    /// Attaches the allocation probe at every point of `plan` in process `pid`.
    pub fn attach_allocs(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        plan: &AllocPlan,
    ) -> Result<(), UserError> {
        self.attach_plan(bin, exe, pid, plan, ALLOC_PROGRAM)
    }

    /// `program` at every point of an allocation plan (the point's cookie
    /// is only meaningful to `malloc_entry`; `bare_count` ignores it).
    fn attach_plan(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        plan: &AllocPlan,
        program: &'static str,
    ) -> Result<(), UserError> {
        let points = plan
            .points
            .iter()
            .map(|p| point(bin, program, p.addr, p.cookie(), &p.func.name))
            .collect::<Result<Vec<_>, _>>()?;
        self.attach(exe, pid, &points).map(drop)
    }

    /// Attaches `func_entry` at each function's entry point (see
    /// `plan::entry_at`) and `func_exit`
    /// on each of its RET instructions; the cookie is the function's index.
    pub fn attach_timed(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        funcs: &[TimedFunc],
    ) -> Result<(), UserError> {
        let mut points = Vec::new();
        for (id, f) in funcs.iter().enumerate() {
            for &ret in &f.rets {
                points.push(point(bin, FUNC_EXIT_PROGRAM, ret, id as u64, &f.name)?);
            }
            points.push(point(bin, FUNC_ENTRY_PROGRAM, f.entry, id as u64, &f.name)?);
        }
        self.attach(exe, pid, &points).map(drop)
    }

    /// The benchmark's reference: a count-only probe on the allocation points.
    pub fn attach_bare(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        plan: &AllocPlan,
    ) -> Result<(), UserError> {
        self.attach_plan(bin, exe, pid, plan, BARE_PROGRAM)
    }

    /// Goroutine creation (each RET of newproc1) and exit (goexit1).
    pub fn attach_goroutines(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        plan: &GoroutinePlan,
    ) -> Result<(), UserError> {
        let mut points = plan
            .created
            .iter()
            .map(|&ret| point(bin, GO_CREATED_PROGRAM, ret, 0, "runtime.newproc1"))
            .collect::<Result<Vec<_>, _>>()?;
        points.push(point(
            bin,
            GO_EXITED_PROGRAM,
            plan.exited,
            0,
            "runtime.goexit1",
        )?);
        self.attach(exe, pid, &points).map(drop)
    }

    /// Opens a sampling window: probes on span refills and large
    /// allocations, and with `live` the plan's liveness points. Returns
    /// their links, for `close_samples`.
    pub fn open_samples(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        plan: &SamplePlan,
        live: bool,
    ) -> Result<Vec<LinkHandle>, UserError> {
        use tracer_common::{COOKIE_AFTER_PROLOGUE, COOKIE_SAMPLE_LARGE};
        let what = "runtime.(*mcache)";
        let live = live && !plan.live.is_empty();
        let flag = |on: bool, bit: u64| if on { bit } else { 0 };
        // A liveness window samples refills where the span is taken and
        // large objects at the RETs of allocLarge (which also count the
        // allocation sample) instead of at their entries.
        //
        // The busy refill point has a link of its own, attached last (the
        // window closes both at once): a link's points go live one after the
        // other as the kernel registers them (an attach takes 4-15 ms on a
        // busy target), and are removed in the same order. In one link
        // before the large objects' points, the refill point fired ~400
        // times while a burst window attached (as often as in the window
        // itself); after them, ~1,300 times while the window closed.
        let mut cold = Vec::new();
        let hot = if !live {
            if let Some(l) = &plan.large {
                let cookie = l.cookie() | COOKIE_SAMPLE_LARGE;
                cold.push(point(bin, SAMPLE_PROGRAM, l.addr, cookie, what)?);
            }
            let r = &plan.refill;
            vec![point(bin, SAMPLE_PROGRAM, r.addr, r.cookie(), what)?]
        } else {
            let mut refill = Vec::new();
            for p in &plan.live {
                let cookie =
                    flag(p.large, COOKIE_SAMPLE_LARGE) | flag(p.frame, COOKIE_AFTER_PROLOGUE);
                let to = if p.large { &mut cold } else { &mut refill };
                to.push(point(bin, LIVE_PROGRAM, p.addr, cookie, what)?);
            }
            refill
        };
        let mut handles = if cold.is_empty() {
            Vec::new()
        } else {
            self.attach(exe, pid, &cold)?
        };
        match self.attach(exe, pid, &hot) {
            Ok(h) => {
                handles.extend(h);
                Ok(handles)
            }
            Err(e) => {
                drop(self.close_samples(handles, true));
                Err(e)
            }
        }
    }

    /// Loads (verifies) these programs now: the first window that attaches
    /// them then does not wait for the verifier (tens of ms of CPU for the
    /// map programs) while the service runs.
    pub fn preload(&mut self, names: &[&str]) -> Result<(), UserError> {
        for name in names {
            loaded(&mut self.ebpf, name)?;
        }
        Ok(())
    }

    /// Closes a sampling window (allocation samples or map operations).
    /// A detach waits for RCU grace periods (~0.1 s per perf-event probe,
    /// once per uprobe_multi link): on a thread of its own, not the run
    /// loop; the probes fire until it has finished. `together`: the links
    /// are detached at once, each on a thread (no point's hit needs
    /// another's), so that none fires while another waits out its grace
    /// periods.
    pub fn close_samples(
        &mut self,
        handles: Vec<LinkHandle>,
        together: bool,
    ) -> std::thread::JoinHandle<()> {
        let links: Vec<(UProbeLink, usize)> = handles
            .into_iter()
            .filter_map(|h| self.links.get_mut(h).and_then(Option::take))
            .collect();
        self.attached = self
            .attached
            .saturating_sub(links.iter().map(|(_, n)| n).sum());
        crate::background::foreground(|| {
            std::thread::spawn(move || {
                if together {
                    let each: Vec<_> = links
                        .into_iter()
                        .map(|l| std::thread::spawn(move || drop(l)))
                        .collect();
                    each.into_iter().for_each(|t| drop(t.join()));
                } else {
                    // Last attached first: entries go before the RETs that end
                    // them (as they were attached after them), so none is left
                    // in flight.
                    links.into_iter().rev().for_each(drop)
                }
            })
        })
    }

    /// Keeps the kernel's BPF run-time statistics on while the tracer runs
    /// (BPF_ENABLE_STATS: off again when the returned fd closes). Where
    /// the kernel refuses, the BPF cost per hit is not measured.
    pub fn enable_stats(&mut self) {
        self.stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).ok();
    }

    /// Cumulative (run time ns, runs) of every uprobe program.
    pub fn uprobe_stats(&self) -> (u64, u64) {
        self.programs_stats(&UPROBE_PROGRAMS)
    }

    /// Cumulative (run time ns, runs) of these programs together, while
    /// stats are on.
    pub fn programs_stats(&self, names: &[&str]) -> (u64, u64) {
        names
            .iter()
            .filter_map(|p| self.program_stats(p))
            .fold((0, 0), |(t, n), (a, b)| (t + a, n + b))
    }

    fn program_stats(&self, name: &str) -> Option<(u64, u64)> {
        self.stats.as_ref()?;
        let info = self.ebpf.program(name)?.info().ok()?;
        Some((info.run_time().as_nanos() as u64, info.run_count()))
    }

    /// Map functions and sync.Map methods: entry (see `plan::entry_at`) and
    /// each RET, the cookie saying which operation and registers.
    pub fn attach_maps(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        points: &[MapPoint],
    ) -> Result<Vec<LinkHandle>, UserError> {
        // RETs first: an entry seen without its RET probe would stay in flight.
        let mut rets = Vec::new();
        let mut entries = Vec::new();
        for p in points {
            for &ret in &p.rets {
                let cookie = p.cookie | tracer_common::map_cookie::AT_RET;
                rets.push(point(bin, MAP_EXIT_PROGRAM, ret, cookie, &p.name)?);
            }
            entries.push(point(bin, MAP_ENTRY_PROGRAM, p.entry, p.cookie, &p.name)?);
        }
        rets.extend(entries);
        self.attach(exe, pid, &rets)
    }

    pub fn attach_madvise(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        addr: u64,
    ) -> Result<(), UserError> {
        let points = [point(bin, MADVISE_PROGRAM, addr, 0, "runtime.madvise")?];
        self.attach(exe, pid, &points).map(drop)
    }

    /// Attaches `points` of `exe` for process `pid`: one uprobe_multi link
    /// per program (in the order the programs first appear), or on kernels
    /// before 6.6 one perf-event uprobe per point behind the same handle.
    pub(super) fn attach(
        &mut self,
        exe: &Path,
        pid: u32,
        points: &[Point],
    ) -> Result<Vec<LinkHandle>, UserError> {
        let failed = |what: &str, e: &dyn std::error::Error| {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return UserError::NoSuchProcess(pid);
            }
            kernel_error(&format!("attaching to {what}"), e)
        };
        let pid_nz = NonZeroU32::new(pid).ok_or(UserError::NoSuchProcess(pid))?;
        let mut programs: Vec<&'static str> = Vec::new();
        for p in points {
            if !programs.contains(&p.program) {
                programs.push(p.program);
            }
        }
        let mut handles = Vec::new();
        for name in programs {
            let group: Vec<&Point> = points.iter().filter(|p| p.program == name).collect();
            let at = group.iter().map(|p| UProbeAttachPoint {
                location: UProbeAttachLocation::AbsoluteOffset(p.offset),
                cookie: Some(p.cookie),
            });
            let prog = loaded(&mut self.ebpf, name)?;
            let id = crate::background::foreground(|| {
                prog.attach(at, exe, UProbeScope::OneProcess(pid_nz))
            })
            .map_err(|e| failed(group[0].what, &e))?;
            let link = prog.take_link(id).map_err(|e| failed(group[0].what, &e))?;
            self.links.push(Some((link, group.len())));
            handles.push(self.links.len() - 1);
        }
        self.attached += points.len();
        Ok(handles)
    }

    /// The syscalls:sys_enter_madvise cross-check (system-wide, filtered to
    /// the target in BPF). Needs tracefs; without it the check is skipped.
    pub fn attach_madvise_syscall(&mut self) -> Result<(), String> {
        self.attach_tracepoint(MADVISE_SYSCALL_PROGRAM, "sys_enter_madvise")
    }

    /// `tracer bench-aggregator`: a record per getppid() of this process.
    pub fn attach_bench(&mut self) -> Result<(), String> {
        self.attach_tracepoint(BENCH_PROGRAM, "sys_enter_getppid")
    }

    fn attach_tracepoint(&mut self, program: &str, syscall: &str) -> Result<(), String> {
        let prog: &mut TracePoint = self
            .ebpf
            .program_mut(program)
            .ok_or("program missing")?
            .try_into()
            .map_err(|e: ProgramError| e.to_string())?;
        prog.load().map_err(|e| e.to_string())?;
        prog.attach("syscalls", syscall)
            .map_err(|e| e.to_string())?;
        self.attached += 1;
        Ok(())
    }

    /// Sets one `CONFIG` entry (`tracer_common::config`).
    pub fn set_config(&mut self, index: u32, value: u64) -> Result<(), UserError> {
        let map = self
            .ebpf
            .map_mut(tracer_common::MAP_CONFIG)
            .ok_or_else(|| UserError::Kernel("map CONFIG missing".into()))?;
        let mut config: aya::maps::Array<_, u64> = aya::maps::Array::try_from(map)
            .map_err(|e| UserError::Kernel(format!("map CONFIG: {e}")))?;
        config
            .set(index, &value, 0)
            .map_err(|e| UserError::Kernel(format!("map CONFIG: {e}")))
    }

    /// Tells the BPF side where `goid`, `gopc` and `startpc` live in this
    /// Go version's `runtime.g`.
    pub fn configure(
        &mut self,
        layout: &crate::tracee::golayout::Layout,
        pid: u32,
    ) -> Result<(), UserError> {
        let g = &layout.g;
        use tracer_common::config::*;
        let read_dirty = layout.sync_map.read_dirty;
        let hmap_count = layout.hmap.map_or(0, |h| h.count);
        let stats = &layout.alloc_stats;
        for (i, v) in [
            (G_GOID_OFFSET, g.goid),
            (G_GOPC_OFFSET, g.gopc),
            (G_STARTPC_OFFSET, g.startpc),
            (TARGET_TGID, u64::from(pid)),
            (SYNC_READ_OFFSET, read_dirty.map_or(0, |r| r.read)),
            (READ_ONLY_M_OFFSET, read_dirty.map_or(0, |r| r.read_only_m)),
            (HMAP_COUNT_OFFSET, hmap_count),
            (MCACHE_ALLOC_OFFSET, stats.mcache.alloc),
            (MCACHE_TINY_ALLOCS_OFFSET, stats.mcache.tiny_allocs),
            (MSPAN_ALLOC_COUNT_OFFSET, stats.mspan.alloc_count),
            (
                MSPAN_BEFORE_CACHE_OFFSET,
                stats.mspan.alloc_count_before_cache,
            ),
            (MSPAN_ELEMSIZE_OFFSET, stats.mspan.elemsize),
            (TINY_SPAN_CLASS, u64::from(stats.mcache.tiny_span_class)),
            (MSPAN_START_OFFSET, stats.mspan.start_addr),
            (MSPAN_FREEINDEX_OFFSET, stats.mspan.freeindex),
            (MSPAN_FREEINDEX_SIZE, stats.mspan.nelems_size),
            (MSPAN_ALLOC_CACHE_OFFSET, stats.mspan.alloc_cache),
            (MSPAN_SPANCLASS_OFFSET, stats.mspan.spanclass),
            (MSPAN_NELEMS_OFFSET, stats.mspan.nelems),
            (MSPAN_LIMIT_OFFSET, stats.mspan.limit),
        ] {
            self.set_config(i, v)?;
        }
        Ok(())
    }
}
