//! Loading the BPF object, attaching uprobes, and measuring what one probe
//! hit costs on this machine. Dropping `Probes` detaches everything (the
//! links are file descriptors: even a SIGKILLed tracer leaves nothing).
use std::{num::NonZeroU32, path::Path};

use aya::{
    programs::{
        uprobe::{UProbeAttachLocation, UProbeAttachPoint, UProbeLink, UProbeScope},
        ProgramError, TracePoint, UProbe,
    },
    Ebpf,
};

use crate::{
    error::UserError,
    gobin::GoBinary,
    probes::{AllocPlan, GoroutinePlan, MapPoint, SamplePlan, TimedFunc},
};

static BPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer-ebpf.o"));

const ALLOC_PROGRAM: &str = "malloc_entry";
const FUNC_ENTRY_PROGRAM: &str = "func_entry";
const FUNC_EXIT_PROGRAM: &str = "func_exit";
const GO_CREATED_PROGRAM: &str = "go_created";
const GO_EXITED_PROGRAM: &str = "go_exited";
const MADVISE_PROGRAM: &str = "madvise_entry";
const MADVISE_SYSCALL_PROGRAM: &str = "madvise_syscall";
const BARE_PROGRAM: &str = "bare_count";
const MAP_ENTRY_PROGRAM: &str = "map_op_entry";
const MAP_EXIT_PROGRAM: &str = "map_op_exit";
const SAMPLE_PROGRAM: &str = "alloc_sample";
const BENCH_PROGRAM: &str = "bench_emit";

pub struct Probes {
    pub ebpf: Ebpf,
    pub attached: usize,
    /// Every uprobe link, owned here (taken from its program) so that a
    /// sampling window can be closed on its own. A handle is an index.
    links: Vec<Option<UProbeLink>>,
}

/// An attached probe, for `Probes::close_samples`.
pub type LinkHandle = usize;

impl Probes {
    /// Probes still attached.
    pub fn links(&self) -> usize {
        self.links.iter().flatten().count()
    }
}

pub fn load() -> Result<Probes, UserError> {
    if BPF_OBJECT.is_empty() {
        return Err(UserError::Unsupported(
            "this tracer binary was built without its BPF programs; build it with `cargo xtask build`".into(),
        ));
    }
    bump_memlock_rlimit();
    let mut ebpf =
        Ebpf::load(BPF_OBJECT).map_err(|e| kernel_error("loading the BPF object", &e))?;
    for name in [
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
    ] {
        program(&mut ebpf, name)?
            .load()
            .map_err(|e| kernel_error(&format!("loading {name}"), &e))?;
    }
    Ok(Probes {
        ebpf,
        attached: 0,
        links: Vec::new(),
    })
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

impl Probes {
    /// Attaches the allocation probe at every point of `plan` in process `pid`.
    pub fn attach_allocs(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        plan: &AllocPlan,
    ) -> Result<(), UserError> {
        for point in &plan.points {
            self.attach_point(
                ALLOC_PROGRAM,
                bin,
                exe,
                pid,
                point.addr,
                point.cookie(),
                &point.func.name,
            )?;
        }
        Ok(())
    }

    /// Attaches `func_entry` after each function's prologue and `func_exit`
    /// on each of its RET instructions; the cookie is the function's index.
    pub fn attach_timed(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        funcs: &[TimedFunc],
    ) -> Result<(), UserError> {
        for (id, f) in funcs.iter().enumerate() {
            self.attach_point(
                FUNC_ENTRY_PROGRAM,
                bin,
                exe,
                pid,
                f.entry,
                id as u64,
                &f.name,
            )?;
            for &ret in &f.rets {
                self.attach_point(FUNC_EXIT_PROGRAM, bin, exe, pid, ret, id as u64, &f.name)?;
            }
        }
        Ok(())
    }

    /// The benchmark's reference: a count-only probe on the allocation points.
    pub fn attach_bare(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        plan: &AllocPlan,
    ) -> Result<(), UserError> {
        for point in &plan.points {
            self.attach_point(BARE_PROGRAM, bin, exe, pid, point.addr, 0, &point.func.name)?;
        }
        Ok(())
    }

    /// Goroutine creation (each RET of newproc1) and exit (goexit1).
    pub fn attach_goroutines(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        plan: &GoroutinePlan,
    ) -> Result<(), UserError> {
        for &ret in &plan.created {
            self.attach_point(
                GO_CREATED_PROGRAM,
                bin,
                exe,
                pid,
                ret,
                0,
                "runtime.newproc1",
            )?;
        }
        self.attach_point(
            GO_EXITED_PROGRAM,
            bin,
            exe,
            pid,
            plan.exited,
            0,
            "runtime.goexit1",
        )
        .map(drop)
    }

    /// Opens a sampling window: probes on span refills and large
    /// allocations. Returns their links, for `close_samples`.
    pub fn open_samples(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        plan: &SamplePlan,
    ) -> Result<Vec<LinkHandle>, UserError> {
        let mut links = Vec::new();
        let points = std::iter::once((plan.refill, 0))
            .chain(plan.large.map(|a| (a, tracer_common::COOKIE_SAMPLE_LARGE)));
        for (addr, cookie) in points {
            links.push(self.attach_point(
                SAMPLE_PROGRAM,
                bin,
                exe,
                pid,
                addr,
                cookie,
                "runtime.(*mcache)",
            )?);
        }
        Ok(links)
    }

    /// Closes a sampling window. Each detach waits ~0.1 s for RCU grace
    /// periods, serialized in the kernel (trace event mutex): that wait
    /// happens on a thread of its own, not in the run loop.
    pub fn close_samples(&mut self, handles: Vec<LinkHandle>) {
        let links: Vec<UProbeLink> = handles
            .into_iter()
            .filter_map(|h| self.links.get_mut(h).and_then(Option::take))
            .collect();
        self.attached = self.attached.saturating_sub(links.len());
        std::thread::spawn(move || drop(links));
    }

    /// Map functions and sync.Map methods: entry (after the prologue) and
    /// each RET, the cookie saying which operation and registers.
    pub fn attach_maps(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        points: &[MapPoint],
    ) -> Result<(), UserError> {
        for p in points {
            self.attach_point(MAP_ENTRY_PROGRAM, bin, exe, pid, p.entry, p.cookie, &p.name)?;
            for &ret in &p.rets {
                let cookie = p.cookie | tracer_common::map_cookie::AT_RET;
                self.attach_point(MAP_EXIT_PROGRAM, bin, exe, pid, ret, cookie, &p.name)?;
            }
        }
        Ok(())
    }

    pub fn attach_madvise(
        &mut self,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        addr: u64,
    ) -> Result<(), UserError> {
        self.attach_point(MADVISE_PROGRAM, bin, exe, pid, addr, 0, "runtime.madvise")
            .map(drop)
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
            .set(index, value, 0)
            .map_err(|e| UserError::Kernel(format!("map CONFIG: {e}")))
    }

    /// One uprobe of `program` at link-time address `addr` of `exe`, for `pid` only.
    #[allow(clippy::too_many_arguments)]
    fn attach_point(
        &mut self,
        program_name: &'static str,
        bin: &GoBinary,
        exe: &Path,
        pid: u32,
        addr: u64,
        cookie: u64,
        what: &str,
    ) -> Result<LinkHandle, UserError> {
        let pid = NonZeroU32::new(pid).ok_or(UserError::NoSuchProcess(pid))?;
        let offset = bin.vaddr_to_file_offset(addr).ok_or_else(|| {
            UserError::Unsupported(format!(
                "{what} at {addr:#x} is outside the file's segments"
            ))
        })?;
        let at = UProbeAttachPoint {
            location: UProbeAttachLocation::AbsoluteOffset(offset),
            cookie: Some(cookie),
        };
        let prog = program(&mut self.ebpf, program_name)?;
        let id = prog
            .attach(at, exe, UProbeScope::OneProcess(pid))
            .map_err(|e| {
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    return UserError::NoSuchProcess(pid.get());
                }
                kernel_error(&format!("attaching to {what}"), &e)
            })?;
        let link = prog
            .take_link(id)
            .map_err(|e| kernel_error(&format!("attaching to {what}"), &e))?;
        self.attached += 1;
        self.links.push(Some(link));
        Ok(self.links.len() - 1)
    }

    /// Tells the BPF side where `goid`, `gopc` and `startpc` live in this
    /// Go version's `runtime.g`.
    pub fn configure(
        &mut self,
        layout: &crate::golayout::Layout,
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
        ] {
            self.set_config(i, v)?;
        }
        Ok(())
    }

    /// Measures the cost of one uprobe hit: time calls of a probed function
    /// in this process against the same calls unprobed. The probe filters
    /// everything out (largest size floor), as the real probe does for
    /// filtered sizes, so it only adds its hits to PROBE_HITS/FILTERED.
    pub fn calibrate(&mut self) -> Result<f64, UserError> {
        const CALLS: u32 = 2000;
        let exe = std::fs::read_link("/proc/self/exe")
            .map_err(|e| UserError::Kernel(format!("/proc/self/exe: {e}")))?;
        let me = own_symbol_file_offset(&exe, "tracer_calibration_point").ok_or_else(|| {
            UserError::Kernel("calibration symbol not found in the tracer binary".into())
        })?;
        let base = time_calls(CALLS);
        let prog = program(&mut self.ebpf, ALLOC_PROGRAM)?;
        let at = UProbeAttachPoint {
            location: UProbeAttachLocation::AbsoluteOffset(me),
            cookie: Some(tracer_common::COOKIE_MIN_SIZE_MASK),
        };
        let pid = NonZeroU32::new(std::process::id()).ok_or(UserError::NoSuchProcess(0))?;
        let link = prog
            .attach(at, &exe, UProbeScope::OneProcess(pid))
            .map_err(|e| kernel_error("attaching the calibration probe", &e))?;
        let probed = time_calls(CALLS);
        prog.detach(link)
            .map_err(|e| kernel_error("detaching the calibration probe", &e))?;
        Ok(((probed - base).max(0.0) / f64::from(CALLS)).max(1.0))
    }
}

/// File offset of a symbol of this (Rust) executable.
fn own_symbol_file_offset(exe: &Path, name: &str) -> Option<u64> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let data = std::fs::read(exe).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let sym = file.symbols().find(|s| s.name() == Ok(name))?;
    let section = file.section_by_index(sym.section_index()?).ok()?;
    let (file_off, _) = section.file_range()?;
    Some(sym.address() - section.address() + file_off)
}

/// CPU time (ns) of `n` calls on this thread: the probe's work is charged
/// to the thread that hits it, and CPU time ignores time spent descheduled.
fn time_calls(n: u32) -> f64 {
    let t = thread_cpu_ns();
    for i in 0..n {
        std::hint::black_box(tracer_calibration_point(std::hint::black_box(i as u64)));
    }
    thread_cpu_ns().saturating_sub(t) as f64
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A function of our own to probe during calibration. Exported so it keeps
/// its symbol and is never inlined.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn tracer_calibration_point(x: u64) -> u64 {
    x.wrapping_mul(31)
}
