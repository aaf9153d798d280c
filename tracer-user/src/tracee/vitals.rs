//! A Go process's vital signs, read from outside without a probe: the
//! heap's live, allocated and released bytes and its allocation counts
//! (`memstats.heapStats`), the GC cycle count (`memstats.numgc`), `GOGC`
//! and `GOMEMLIMIT` as the program has them now (`gcController`), its
//! goroutines by state (`allgs`) and its RSS (`/proc/PID/status`; LazyFree
//! from `smaps_rollup`, at most every [`LAZY_FREE_MAX_AGE`]: the kernel
//! walks the page tables for it, ~1 ms per 20 MB resident). What a
//! fleet agent reports for every Go process it finds.
//!
//! [`VitalsReader::open`] parses the executable once to find the globals
//! and keeps only their addresses (and the system goroutines' start
//! ranges), so a reader costs a few KiB however large the binary; each
//! [`VitalsReader::read`] is a handful of `process_vm_readv` calls plus one
//! per 1,024 goroutines. The target is never stopped or written to.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use crate::tracee::allocstats::{self, AllocCounters};
use crate::tracee::disasm::rax_globals_passed_to;
use crate::tracee::gobin::GoBinary;
use crate::tracee::golayout::{self, Layout};
use crate::tracee::goroutines::{self, symtab_address, GInfo, SystemStarts, MAX_READ_GS};
use crate::tracee::memory::read_smaps_rollup;
use crate::tracee::procmem::ProcMem;
use crate::tracee::Target;

/// One reading.
#[derive(Debug, Clone, Default)]
pub struct Vitals {
    /// The runtime's allocation counters (`Mallocs`, `TotalAlloc`, …).
    pub alloc: Option<AllocCounters>,
    /// `MemStats.NumGC`.
    pub gc_cycles: Option<u32>,
    /// `GOGC` in percent now (-1: off).
    pub gogc: Option<i32>,
    /// `GOMEMLIMIT` in bytes now (`math.MaxInt64`: no limit).
    pub memory_limit: Option<i64>,
    /// The program's goroutines (`runtime.NumGoroutine`: not dead, not
    /// the runtime's own) by state name.
    pub goroutines: Option<BTreeMap<&'static str, u64>>,
    /// The runtime's own goroutines (GC workers, finalizer, …).
    pub system_goroutines: Option<u64>,
    /// Resident set and pages freed with `MADV_FREE` the kernel has not
    /// reclaimed yet (`LazyFree`), bytes.
    pub rss_bytes: Option<u64>,
    pub lazy_free_bytes: Option<u64>,
}

impl Vitals {
    /// `runtime.NumGoroutine()`.
    pub fn goroutine_count(&self) -> Option<u64> {
        self.goroutines.as_ref().map(|m| m.values().sum())
    }
}

/// Where one process keeps what [`Vitals`] reads.
#[derive(Debug)]
pub struct VitalsReader {
    pub pid: u32,
    pub go_version: String,
    /// The executable's load bias (runtime − link-time addresses).
    pub bias: u64,
    mem: ProcMem,
    pub layout: &'static Layout,
    memstats: Option<u64>,
    allgs: Option<u64>,
    gc_controller: Option<u64>,
    starts: SystemStarts,
    /// What could not be found, for the agent's log.
    pub missing: Vec<String>,
    lazy_free: Mutex<Option<(Instant, u64)>>,
}

/// How old a LazyFree reading may be.
pub const LAZY_FREE_MAX_AGE: Duration = Duration::from_secs(60);

/// Resident set size (`VmRSS` of `/proc/PID/status`: the kernel's
/// counters, no page walk).
fn vm_rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

impl VitalsReader {
    /// Finds the globals of `target`, whose executable is `bin`.
    pub fn open(target: &Target, bin: &GoBinary) -> Result<VitalsReader> {
        let info = bin.build_info();
        let layout = info
            .version()
            .and_then(|(major, minor)| golayout::layout_for(major, minor))
            .ok_or_else(|| anyhow!("Go version {:?} is not supported", info.go_version))?;
        let bias = target.load_bias(bin.first_load_vaddr(), bin.is_pie())?;
        let mem = ProcMem::new(target.pid);
        let mut missing = Vec::new();
        let mut keep = |what: &str, r: Result<u64, String>| match r {
            Ok(a) => Some(a),
            Err(e) => {
                missing.push(format!("{what}: {e}"));
                None
            }
        };
        let memstats = keep(
            "heap statistics",
            allocstats::locate(&mem, bin, &layout.alloc_stats, bias).map_err(|e| format!("{e:#}")),
        );
        let allgs = keep(
            "goroutines",
            goroutines::locate_allgs(&mem, bin, layout, bias).map(|l| l.addr),
        );
        let gc_controller = keep(
            "GOGC and GOMEMLIMIT",
            locate_gc_controller(&mem, bin, layout, bin.symtab_file(), bias),
        );
        Ok(VitalsReader {
            pid: target.pid,
            go_version: bin.build_info().go_version.clone(),
            bias,
            mem,
            layout,
            memstats,
            allgs,
            gc_controller,
            starts: SystemStarts::new(bin, bias),
            missing,
            lazy_free: Mutex::new(None),
        })
    }

    /// Reads everything once; what cannot be read now is `None`.
    pub fn read(&self) -> Vitals {
        self.read_with_list().0
    }

    /// [`read`](Self::read), and the program's goroutines as listed
    /// (system ones left out) for a caller that groups them further.
    pub fn read_with_list(&self) -> (Vitals, Vec<GInfo>) {
        let mem = &self.mem;
        let stats = &self.layout.alloc_stats;
        let pacer = &self.layout.pacer;
        let alloc = self
            .memstats
            .and_then(|m| allocstats::read(mem, stats, m).ok());
        let gc_cycles = self
            .memstats
            .and_then(|m| mem.read_u32(m + pacer.memstats_numgc).ok());
        let gogc = self
            .gc_controller
            .and_then(|c| mem.read_u32(c + pacer.gc_percent).ok())
            .map(|v| v as i32);
        let memory_limit = self
            .gc_controller
            .and_then(|c| mem.read_u64(c + pacer.memory_limit).ok())
            .map(|v| v as i64);
        let (goroutines, system_goroutines, list) = match self.goroutines() {
            Some((user, system, list)) => (Some(user), Some(system), list),
            None => (None, None, Vec::new()),
        };
        let rss_bytes = vm_rss(self.pid);
        let lazy_free_bytes = self.lazy_free();
        let vitals = Vitals {
            alloc,
            gc_cycles,
            gogc,
            memory_limit,
            goroutines,
            system_goroutines,
            rss_bytes,
            lazy_free_bytes,
        };
        (vitals, list)
    }

    /// LazyFree bytes, read again when the last reading is older than
    /// [`LAZY_FREE_MAX_AGE`].
    fn lazy_free(&self) -> Option<u64> {
        let mut last = self.lazy_free.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, v)) = *last {
            if at.elapsed() < LAZY_FREE_MAX_AGE {
                return Some(v);
            }
        }
        let v = read_smaps_rollup(self.pid).ok()?.lazy_free;
        *last = Some((Instant::now(), v));
        Some(v)
    }

    /// The program's goroutines (not the runtime's own), from one reading
    /// of the list: nothing else is read.
    pub fn program_goroutines(&self) -> Option<Vec<GInfo>> {
        self.goroutines().map(|(_, _, program)| program)
    }

    /// The program's goroutines by state, the runtime's own count, and the
    /// program's goroutines.
    fn goroutines(&self) -> Option<(BTreeMap<&'static str, u64>, u64, Vec<GInfo>)> {
        let list = goroutines::read_list(&self.mem, self.layout, self.allgs?, MAX_READ_GS).ok()?;
        let status = &self.layout.g.status;
        let mut user = BTreeMap::new();
        let mut system = 0;
        let mut program = Vec::with_capacity(list.gs.len());
        for g in list.gs {
            if self.starts.contains(g.startpc) {
                system += 1;
                continue;
            }
            let s = g.status & !status.scan;
            let name = match s {
                s if s == status.running => "running",
                s if s == status.runnable => "runnable",
                s if s == status.syscall => "syscall",
                s if s == status.waiting => "waiting",
                s if s == status.preempted => "preempted",
                s if s == status.copystack => "copystack",
                s if Some(s) == status.leaked => "leaked",
                s if s == status.idle => "idle",
                _ => "other",
            };
            *user.entry(name).or_insert(0) += 1;
            program.push(g);
        }
        Some((user, system, program))
    }
}

/// Runtime address of `runtime.gcController`: the `.symtab` symbol, or
/// the receiver its callers pass to `(*gcControllerState).commit`. It must
/// hold a `gcPercent` ≥ -1 and a `memoryLimit` ≥ 0.
pub(crate) fn locate_gc_controller(
    mem: &ProcMem,
    bin: &GoBinary,
    layout: &Layout,
    exe: Option<&[u8]>,
    bias: u64,
) -> Result<u64, String> {
    let p = &layout.pacer;
    let sym = &p.symbols;
    let mut cands: Vec<u64> = exe
        .and_then(|e| symtab_address(e, sym.gc_controller))
        .into_iter()
        .collect();
    if let Some(commit) = bin.function(sym.commit) {
        for caller in sym.commit_callers.iter().filter_map(|n| bin.function(n)) {
            let len = caller.end.saturating_sub(caller.entry);
            if let Some(code) = bin.text_bytes(caller.entry, len) {
                cands.extend(rax_globals_passed_to(code, caller.entry, commit.entry));
            }
        }
    }
    cands.dedup();
    if cands.is_empty() {
        return Err(format!(
            "cannot find {} (no symbol, no call of {})",
            sym.gc_controller, sym.commit
        ));
    }
    let ok = |a: u64| {
        let pct = mem.read_u32(a + p.gc_percent).map(|v| v as i32);
        let limit = mem.read_u64(a + p.memory_limit).map(|v| v as i64);
        matches!((pct, limit), (Ok(pct), Ok(limit)) if pct >= -1 && limit >= 0)
    };
    cands
        .iter()
        .map(|a| a.wrapping_add(bias))
        .find(|&a| ok(a))
        .ok_or_else(|| format!("no candidate for {} checks out", sym.gc_controller))
}
