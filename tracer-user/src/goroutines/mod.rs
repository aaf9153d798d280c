//! The goroutines of a running Go program, read once from its memory (at
//! attach time), without stopping it.
//!
//! The runtime keeps every `g` it ever allocated in `runtime.allgs`
//! (`runtime/proc.go`); exited goroutines stay there as `_Gdead` for reuse.
//! We find the slice (see `locate`), read its header and then each `g`'s
//! id, status, wait reason and creation PCs (offsets from `golayout`).
//!
//! The reading races with the program: a goroutine may start, exit or
//! change state while we read, so the result is a snapshot that is exact
//! only for goroutines that stay put (blocked ones, which are what a leak
//! hunt is about). `allgs` only grows and its elements never change, so a
//! consistent header (len ≤ cap, array readable) gives valid `g` pointers.
//!
//! Files: `locate` (finding `allgs` with and without `.symtab`), `tests/`.

// The attach code that calls this is wired in separately.

mod locate;
// `pub(crate)`: the memory tests reuse its Go build/run harness.
#[cfg(test)]
pub(crate) mod tests;

use crate::gobin::GoBinary;
use crate::golayout::Layout;
use crate::procmem::ProcMem;

pub use locate::{symtab_address, Found};

/// One live goroutine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GInfo {
    /// Runtime address of the `runtime.g`.
    pub addr: u64,
    pub goid: u64,
    /// `g.atomicstatus` with the `_Gscan` bit cleared (the GC may be
    /// scanning the stack at the moment we read; the state is the same).
    pub status: u32,
    /// `g.waitreason`; meaningful when `status` is `_Gwaiting`.
    pub wait_reason: u8,
    /// PC after the call to `runtime.newproc` in the `go` statement
    /// (runtime address). Symbolize `gopc - bias - 1` to get its line, as
    /// the runtime's `printcreatedby` does; 0 for the main goroutine.
    pub gopc: u64,
    /// Entry of the goroutine's function (runtime address).
    pub startpc: u64,
}

impl GInfo {
    /// Whether the runtime counts this as a system goroutine (not in
    /// `runtime.NumGoroutine`): mirrors `isSystemGoroutine(gp, false)` in
    /// `runtime/traceback.go`: the start function is in package runtime,
    /// except `runtime.main` and the coroutine/async-event starters.
    /// The finalizer and cleanup goroutines count as user goroutines only
    /// while they run user code (a flag we do not read): here they are
    /// always system, which matches `NumGoroutine` whenever no finalizer
    /// is executing.
    #[cfg(test)]
    pub fn is_system(&self, bin: &GoBinary, bias: u64) -> bool {
        is_system_start(bin, self.startpc, bias)
    }

    /// Link-time PC to symbolize for the `go` statement that created the
    /// goroutine (`None` for goroutines the runtime started itself).
    #[cfg(test)]
    pub fn creation_pc(&self, bias: u64) -> Option<u64> {
        (self.gopc != 0).then(|| self.gopc.wrapping_sub(bias).saturating_sub(1))
    }
}

/// The runtime's name for a wait reason ("chan receive", "select", …).
#[cfg(test)]
pub fn wait_reason_name(layout: &Layout, reason: u8) -> &'static str {
    layout.wait_reasons.name(reason)
}

/// Where `allgs` is in the target, and how it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllgsLocation {
    /// Runtime address of the slice header.
    pub addr: u64,
    pub found: Found,
}

/// Slices larger than this are taken as garbage, not goroutines (each `g`
/// costs ≥ 2 KiB of stack: 16 M goroutines would be 32 GiB).
const MAX_ALLGS: u64 = 1 << 24;
/// Attempts at a consistent snapshot while `allgadd` may be reallocating.
const READ_ATTEMPTS: usize = 5;

/// The runtime's `isSystemGoroutine` rule on a goroutine's start PC
/// (runtime address): its function is in package runtime, except the
/// ones that run user code.
#[cfg(test)]
pub fn is_system_start(bin: &GoBinary, startpc: u64, bias: u64) -> bool {
    bin.func_at(startpc.wrapping_sub(bias))
        .is_some_and(|f| is_system_function(&f.name))
}

/// Start functions that make a goroutine the runtime's own.
pub fn is_system_function(name: &str) -> bool {
    match name {
        "runtime.main" | "runtime.corostart" | "runtime.handleAsyncEvent" => false,
        n => n.starts_with("runtime."),
    }
}

/// Runtime address ranges of the functions that make a goroutine a
/// system goroutine (see [`is_system_start`]), for classifying creation
/// events quickly.
#[derive(Debug, Default, Clone)]
pub struct SystemStarts(Vec<(u64, u64)>);

impl SystemStarts {
    pub fn new(bin: &GoBinary, bias: u64) -> SystemStarts {
        let mut ranges: Vec<(u64, u64)> = bin
            .functions()
            .filter(|f| is_system_function(&f.name))
            .map(|f| (f.entry.wrapping_add(bias), f.end.wrapping_add(bias)))
            .collect();
        ranges.sort_unstable();
        SystemStarts(ranges)
    }

    pub fn contains(&self, startpc: u64) -> bool {
        let i = self.0.partition_point(|r| r.0 <= startpc);
        i > 0 && startpc < self.0[i - 1].1
    }
}

/// Every goroutine of the target that is not dead (`_Gdead`, and
/// `_Gdeadextra` on 1.26+: a g kept for cgo callbacks). System goroutines
/// are included; see [`GInfo::is_system`]. `bias` is the load bias of the
/// executable (0 unless PIE). `runtime.allgs` comes from the `.symtab` of
/// `/proc/PID/exe`, or from the code of `runtime.allgadd` when stripped.
pub fn list_goroutines(
    mem: &ProcMem,
    bin: &GoBinary,
    layout: &Layout,
    bias: u64,
) -> Result<Vec<GInfo>, String> {
    let loc = locate_allgs(mem, bin, layout, bias)?;
    read_goroutines(mem, layout, loc.addr)
}

/// Finds `allgs` and checks it against live memory. The `.symtab` symbol
/// is preferred; code candidates are tried in order and the first whose
/// header looks like `allgs` wins.
pub fn locate_allgs(
    mem: &ProcMem,
    bin: &GoBinary,
    layout: &Layout,
    bias: u64,
) -> Result<AllgsLocation, String> {
    // The symbol table is only in the file (never loaded), and `GoBinary`
    // keeps no data symbols: read the executable again, once, at attach.
    // Skipped when `GoBinary` already knows there is no `.symtab`.
    let from_symtab = if bin.is_stripped() {
        None
    } else {
        std::fs::read(format!("/proc/{}/exe", mem.pid))
            .ok()
            .and_then(|exe| locate::symtab_address(&exe, layout.allgs.allgs_symbol))
    };
    let mut candidates: Vec<(u64, Found)> = from_symtab
        .map(|a| (a, Found::Symtab))
        .into_iter()
        .collect();
    candidates.extend(locate::allgs_candidates_from_code(bin));
    if candidates.is_empty() {
        return Err(format!(
            "cannot find {} (no .symtab symbol and no reference in runtime.allgadd)",
            layout.allgs.allgs_symbol
        ));
    }
    let mut why = Vec::new();
    for (link, found) in candidates {
        let addr = link.wrapping_add(bias);
        match validate_allgs(mem, layout, addr) {
            Ok(()) => return Ok(AllgsLocation { addr, found }),
            Err(e) => why.push(format!("{addr:#x} ({found:?}): {e}")),
        }
    }
    Err(format!(
        "no candidate for {} holds a goroutine list: {}",
        layout.allgs.allgs_symbol,
        why.join("; ")
    ))
}

/// `allgs` is plausible: a consistent header, a readable array, and the
/// main goroutine (goid 1, the first `g` ever added by `newproc` of
/// `runtime.main`) among its first entries.
fn validate_allgs(mem: &ProcMem, layout: &Layout, addr: u64) -> Result<(), String> {
    let (ptr, len) = read_allgs_header(mem, layout, addr)?;
    let first = mem
        .read_u64s(ptr, len.min(4) as usize)
        .map_err(|e| format!("array at {ptr:#x}: {e}"))?;
    let has_main = first.iter().any(|&g| {
        g != 0
            && mem
                .read_u64(g.wrapping_add(layout.g.goid))
                .is_ok_and(|id| id == 1)
    });
    if has_main {
        Ok(())
    } else {
        Err("no goroutine 1 among the first entries".into())
    }
}

/// (array, len) of the slice header at `addr`, read in one call and
/// checked for consistency (a torn read during `append` fails the checks).
fn read_allgs_header(mem: &ProcMem, layout: &Layout, addr: u64) -> Result<(u64, u64), String> {
    let a = &layout.allgs;
    let words = mem
        .read_u64s(addr, 3)
        .map_err(|e| format!("header at {addr:#x}: {e}"))?;
    let word = |off: u64| words.get((off / 8) as usize).copied().unwrap_or(0);
    let (ptr, len, cap) = (word(a.slice_array), word(a.slice_len), word(a.slice_cap));
    if len == 0 || ptr == 0 || len > cap || cap > MAX_ALLGS || ptr % 8 != 0 {
        return Err(format!(
            "not a goroutine slice (ptr {ptr:#x}, len {len}, cap {cap})"
        ));
    }
    Ok((ptr, len))
}

/// Reads every live goroutine of the `allgs` slice at runtime address
/// `allgs`.
pub fn read_goroutines(mem: &ProcMem, layout: &Layout, allgs: u64) -> Result<Vec<GInfo>, String> {
    let mut last_err = String::new();
    for _ in 0..READ_ATTEMPTS {
        let ptrs = read_allgs_header(mem, layout, allgs).and_then(|(ptr, len)| {
            mem.read_u64s(ptr, len as usize)
                .map_err(|e| format!("allgs array at {ptr:#x} (len {len}): {e}"))
        });
        match ptrs {
            Ok(ptrs) => return read_gs(mem, layout, &ptrs),
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

fn read_gs(mem: &ProcMem, layout: &Layout, ptrs: &[u64]) -> Result<Vec<GInfo>, String> {
    let g = &layout.g;
    let st = &g.status;
    // One read per g covering every field we need.
    let span = [
        g.goid + 8,
        g.atomicstatus + 4,
        g.waitreason + 1,
        g.gopc + 8,
        g.startpc + 8,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let mut buf = vec![0u8; span as usize];
    let mut out = Vec::with_capacity(ptrs.len());
    for &addr in ptrs {
        if addr == 0 {
            continue;
        }
        match mem.read(addr, &mut buf) {
            Ok(()) => {}
            // A g is never freed; a failure means the process is gone or the
            // pointer is bad: the whole list cannot be trusted.
            Err(e) => return Err(format!("g at {addr:#x}: {e}")),
        }
        let status = le_u32(&buf, g.atomicstatus) & !st.scan;
        if status == st.dead || Some(status) == st.deadextra {
            continue;
        }
        out.push(GInfo {
            addr,
            goid: le_u64(&buf, g.goid),
            status,
            wait_reason: buf.get(g.waitreason as usize).copied().unwrap_or(0),
            gopc: le_u64(&buf, g.gopc),
            startpc: le_u64(&buf, g.startpc),
        });
    }
    Ok(out)
}

fn le_u64(b: &[u8], off: u64) -> u64 {
    let off = off as usize;
    b.get(off..off + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn le_u32(b: &[u8], off: u64) -> u32 {
    let off = off as usize;
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}
