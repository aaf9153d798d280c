//! Which runtime functions to probe for a given Go binary, and with which
//! size floor (attach cookie), so that every allocation is counted once.
use tracer_common::COOKIE_AFTER_PROLOGUE;

use crate::{
    error::UserError,
    tracee::disasm,
    tracee::gobin::{FuncInfo, GoBinary},
};

/// Oldest and newest Go minor versions this tracer knows the runtime of.
pub const SUPPORTED: (u32, u32) = (21, 27);

/// Size-specialised allocation functions that compiled code may call directly
/// (Go 1.27, or 1.26 with GOEXPERIMENT=sizespecializedmalloc). Their
/// `*SlowPath` helpers are only reached from them and are not probed.
const SPECIALISED_PREFIXES: &[&str] = &[
    "runtime.mallocgcTinySC",
    "runtime.mallocgcTinySize",
    "runtime.mallocgcSmallNoScanSC",
    "runtime.mallocgcSmallScanNoHeaderSC",
];

#[derive(Debug, Clone)]
pub struct ProbePoint {
    pub func: FuncInfo,
    /// Link-time address of the probed instruction.
    pub addr: u64,
    /// Smallest requested size counted at this point.
    pub min_size: u64,
    /// BP holds the probed function's own frame there (see
    /// [`EntryAt::frame`]).
    pub after_prologue: bool,
    /// The point runs once per call (see [`EntryAt::once`]).
    pub once: bool,
}

/// Where a function's entry probe goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryAt {
    /// From the function's entry.
    pub offset: u64,
    /// BP already holds the function's own frame (past `MOVQ SP, BP`);
    /// else the caller's, with the return address at `*SP`.
    pub frame: bool,
    /// Past the prologue's stack check: the point runs once per call (an
    /// entry probe fires again each time morestack restarts the function).
    pub once: bool,
}

/// The prologue's `PUSHQ BP` when the function has a Go prologue: past the
/// stack check, and an instruction the kernel emulates (a hit costs a
/// tenth of one on the next instruction, see `disasm::emulated`). Else
/// past the prologue, else the entry.
pub fn entry_at(code: Option<&[u8]>, entry: u64) -> EntryAt {
    if let Some(offset) = code.and_then(|c| disasm::frame_push(c, entry)) {
        return EntryAt {
            offset,
            frame: false,
            once: true,
        };
    }
    match code.and_then(|c| disasm::after_prologue(c, entry)) {
        Some(offset) => EntryAt {
            offset,
            frame: true,
            once: true,
        },
        None => EntryAt {
            offset: 0,
            frame: false,
            once: false,
        },
    }
}

impl ProbePoint {
    fn new(bin: &GoBinary, func: FuncInfo, min_size: u64) -> ProbePoint {
        let at = entry_at(code_of(bin, &func), func.entry);
        ProbePoint {
            addr: func.entry + at.offset,
            after_prologue: at.frame,
            once: at.once,
            func,
            min_size,
        }
    }

    pub fn cookie(&self) -> u64 {
        self.min_size
            | if self.after_prologue {
                COOKIE_AFTER_PROLOGUE
            } else {
                0
            }
    }
}

#[derive(Debug, Clone)]
pub struct AllocPlan {
    pub points: Vec<ProbePoint>,
    /// Human description of the scheme (for `inspect` and the report).
    pub scheme: String,
}

pub fn go_minor(bin: &GoBinary) -> Result<u32, UserError> {
    let info = bin.build_info();
    match info.version() {
        Some((1, minor)) if (SUPPORTED.0..=SUPPORTED.1).contains(&minor) => Ok(minor),
        _ => Err(UserError::Unsupported(format!(
            "Go version {} is not supported (supported: go1.{}..go1.{})",
            if info.go_version.is_empty() {
                "unknown"
            } else {
                &info.go_version
            },
            SUPPORTED.0,
            SUPPORTED.1
        ))),
    }
}

pub fn alloc_plan(bin: &GoBinary) -> Result<AllocPlan, UserError> {
    let minor = go_minor(bin)?;
    let mallocgc = bin.function("runtime.mallocgc").ok_or_else(|| {
        UserError::Unsupported("runtime.mallocgc not found in the binary's function table".into())
    })?;
    let specialised: Vec<FuncInfo> = SPECIALISED_PREFIXES
        .iter()
        .flat_map(|p| bin.functions_with_prefix(p))
        .filter(|f| !f.name.ends_with("SlowPath"))
        .collect();
    if specialised.is_empty() {
        return Ok(AllocPlan {
            points: vec![ProbePoint::new(bin, mallocgc, 1)],
            scheme: "runtime.mallocgc".into(),
        });
    }
    // mallocgc forwards sizes below its dispatch table length to the
    // specialised functions (runtime/malloc.go: mallocNoScanTable).
    let table_len = if minor >= 27 { 81 } else { 513 };
    let n = specialised.len();
    // Best: probe past mallocgc's own dispatch, so a small allocation costs
    // one hit (its specialised function's), not two.
    let code = code_of(bin, &mallocgc);
    if let Some(off) = code.and_then(|c| disasm::size_dispatch_target(c, mallocgc.entry, table_len))
    {
        let mut points = vec![ProbePoint {
            addr: mallocgc.entry + off,
            min_size: 1,
            after_prologue: true,
            once: true,
            func: mallocgc,
        }];
        points.extend(
            specialised
                .into_iter()
                .map(|func| ProbePoint::new(bin, func, 1)),
        );
        return Ok(AllocPlan {
            points,
            scheme: format!("runtime.mallocgc past its size dispatch (size >= {table_len}) + {n} size-specialised functions"),
        });
    }
    let mut points = vec![ProbePoint::new(bin, mallocgc, table_len)];
    points.extend(
        specialised
            .into_iter()
            .map(|func| ProbePoint::new(bin, func, 1)),
    );
    Ok(AllocPlan {
        points,
        scheme: format!("runtime.mallocgc (size >= {table_len}) + {n} size-specialised functions"),
    })
}

/// A function's machine code, from the binary.
fn code_of<'b>(bin: &'b GoBinary, func: &FuncInfo) -> Option<&'b [u8]> {
    bin.text_bytes(func.entry, func.end.saturating_sub(func.entry))
}

/// Link-time addresses of every RET in the code of a function at `entry`.
fn ret_addrs(code: &[u8], entry: u64) -> Vec<u64> {
    disasm::ret_offsets(code, entry)
        .into_iter()
        .map(|o| entry + o)
        .collect()
}

/// A function timed from its prologue's push (see [`entry_at`]) to each
/// of its RETs.
#[derive(Debug, Clone)]
pub struct TimedFunc {
    pub name: String,
    /// Link-time address of the entry probe.
    pub entry: u64,
    /// Link-time addresses of every RET.
    pub rets: Vec<u64>,
}

pub fn timed_func(bin: &GoBinary, name: &str) -> Result<TimedFunc, UserError> {
    let func = bin.function(name).ok_or_else(|| {
        UserError::Usage(format!("--time {name}: no such function in the binary (names as in a Go stack trace, e.g. main.handle)"))
    })?;
    let code = code_of(bin, &func)
        .ok_or_else(|| UserError::Unsupported(format!("cannot read the code of {name}")))?;
    let rets = ret_addrs(code, func.entry);
    if rets.is_empty() {
        return Err(UserError::Unsupported(format!(
            "--time {name}: the function never returns (no RET instruction)"
        )));
    }
    Ok(TimedFunc {
        name: func.name.clone(),
        entry: func.entry + entry_at(Some(code), func.entry).offset,
        rets,
    })
}

/// Where goroutine lifetimes are observed.
#[derive(Debug, Clone)]
pub struct GoroutinePlan {
    /// Each RET of runtime.newproc1 (RAX holds the new g there).
    pub created: Vec<u64>,
    /// runtime.goexit1 at its prologue's push (R14 holds the exiting g).
    pub exited: u64,
}

pub fn goroutine_plan(bin: &GoBinary) -> Result<GoroutinePlan, UserError> {
    let missing =
        |n: &str| UserError::Unsupported(format!("{n} not found: goroutines cannot be traced"));
    let newproc1 = bin
        .function("runtime.newproc1")
        .ok_or_else(|| missing("runtime.newproc1"))?;
    let code = code_of(bin, &newproc1).ok_or_else(|| missing("code of runtime.newproc1"))?;
    let created = ret_addrs(code, newproc1.entry);
    if created.is_empty() {
        return Err(missing("a RET in runtime.newproc1"));
    }
    let goexit1 = bin
        .function("runtime.goexit1")
        .ok_or_else(|| missing("runtime.goexit1"))?;
    let exit_point = ProbePoint::new(bin, goexit1, 0);
    Ok(GoroutinePlan {
        created,
        exited: exit_point.addr,
    })
}

/// runtime.gcResetMarkState, after its prologue: `gcStart` calls it once a
/// GC cycle, once the cycle before is swept and before marking.
pub fn gc_start_point(bin: &GoBinary) -> Option<u64> {
    bin.function("runtime.gcResetMarkState")
        .map(|f| ProbePoint::new(bin, f, 0).addr)
}

/// runtime.madvise (assembly, ABI0, no prologue): probed at its entry.
pub fn madvise_point(bin: &GoBinary) -> Option<u64> {
    bin.function("runtime.madvise").map(|f| f.entry)
}

/// One probed map function or sync.Map method.
#[derive(Debug, Clone)]
pub struct MapPoint {
    pub name: String,
    /// Entry probe (see [`entry_at`]).
    pub entry: u64,
    /// RET probes (none for growth points, which are counted at entry).
    pub rets: Vec<u64>,
    pub cookie: u64,
}

/// The same point counted at its entry alone (sampled mode's windows):
/// a third of the probe points to switch and one hit per operation, at
/// the price of latencies and of the results read at RET (load misses,
/// Range sizes). Map creation keeps its RETs: the new map is in RAX there.
pub fn entry_only(p: MapPoint) -> MapPoint {
    use tracer_common::{map_cookie as mc, map_op};
    if (p.cookie & mc::OP_MASK) as u32 == map_op::MAKE {
        return p;
    }
    MapPoint {
        rets: Vec::new(),
        cookie: p.cookie | mc::INSTANT,
        ..p
    }
}

/// Map and sync.Map probes for this binary. Functions the program does not
/// use are absent (dead-code elimination), and functions that only forward
/// to probed ones (makemap64, mapaccess*_fat, sync.Map Store/Delete) are not
/// probed: a nested call would take the outer call's slot.
pub fn map_plan(bin: &GoBinary, sync_impl: crate::tracee::golayout::SyncMapImpl) -> Vec<MapPoint> {
    use tracer_common::{map_cookie as mc, map_op as op};
    let regs = |op: u32, map: u64, typ: u64, value: u64, result: u64| -> u64 {
        u64::from(op)
            | map << mc::MAP_REG_SHIFT
            | typ << mc::TYPE_REG_SHIFT
            | value << mc::VALUE_REG_SHIFT
            | result << mc::RESULT_REG_SHIFT
    };
    let n = mc::NONE;
    let mut wanted: Vec<(String, u64)> = Vec::new();
    let mut add = |name: &str, cookie: u64| wanted.push((name.to_string(), cookie));
    for f in [
        "mapaccess1",
        "mapaccess1_fast32",
        "mapaccess1_fast64",
        "mapaccess1_faststr",
    ] {
        add(
            &format!("runtime.{f}"),
            regs(op::ACCESS, mc::RBX, mc::RAX, n, n),
        );
    }
    for f in [
        "mapaccess2",
        "mapaccess2_fast32",
        "mapaccess2_fast64",
        "mapaccess2_faststr",
    ] {
        add(
            &format!("runtime.{f}"),
            regs(op::ACCESS, mc::RBX, mc::RAX, n, mc::RBX),
        );
    }
    for f in [
        "mapassign",
        "mapassign_fast32",
        "mapassign_fast32ptr",
        "mapassign_fast64",
        "mapassign_fast64ptr",
        "mapassign_faststr",
    ] {
        add(
            &format!("runtime.{f}"),
            regs(op::ASSIGN, mc::RBX, mc::RAX, n, n),
        );
    }
    for f in [
        "mapdelete",
        "mapdelete_fast32",
        "mapdelete_fast64",
        "mapdelete_faststr",
    ] {
        add(
            &format!("runtime.{f}"),
            regs(op::DELETE, mc::RBX, mc::RAX, n, n),
        );
    }
    for f in ["runtime.mapiterinit", "runtime.mapIterStart"] {
        add(f, regs(op::ITERATE, mc::RBX, mc::RAX, n, n));
    }
    add("runtime.mapclear", regs(op::CLEAR, mc::RBX, mc::RAX, n, n));
    add("runtime.makemap", regs(op::MAKE, n, mc::RAX, n, n));
    add("runtime.makemap_small", regs(op::MAKE, n, n, n, n));
    let grow = |cookie: u64| cookie | mc::INSTANT;
    add(
        "runtime.hashGrow",
        grow(regs(op::GROW, mc::RBX, mc::RAX, n, n)),
    );
    add(
        "internal/runtime/maps.(*table).rehash",
        grow(regs(op::GROW, mc::RCX, mc::RBX, n, n)),
    );
    for f in ["growToSmall", "growToTable"] {
        add(
            &format!("internal/runtime/maps.(*Map).{f}"),
            grow(regs(op::GROW, mc::RAX, mc::RBX, n, n)),
        );
    }
    // sync.Map: the receiver is in RAX. The hash-trie methods are generic
    // (shape any,any): the dictionary follows the receiver in RBX, so the
    // key and value come one register later.
    let (prefix, value) = match sync_impl {
        crate::tracee::golayout::SyncMapImpl::ReadDirty => ("sync.(*Map).", mc::RDI),
        crate::tracee::golayout::SyncMapImpl::HashTrie => (
            "internal/sync.(*HashTrieMap[go.shape.interface {},go.shape.interface {}]).",
            mc::RSI,
        ),
    };
    add(
        &format!("{prefix}Load"),
        regs(op::SYNC_LOAD, mc::RAX, n, n, mc::RCX),
    );
    add(
        &format!("{prefix}Swap"),
        regs(op::SYNC_SWAP, mc::RAX, n, value, mc::RCX),
    );
    add(
        &format!("{prefix}LoadOrStore"),
        regs(op::SYNC_LOAD_OR_STORE, mc::RAX, n, value, mc::RCX),
    );
    add(
        &format!("{prefix}LoadAndDelete"),
        regs(op::SYNC_LOAD_AND_DELETE, mc::RAX, n, n, mc::RCX),
    );
    let read_len = match sync_impl {
        crate::tracee::golayout::SyncMapImpl::ReadDirty => mc::READ_LEN,
        crate::tracee::golayout::SyncMapImpl::HashTrie => 0,
    };
    add(
        &format!("{prefix}Range"),
        regs(op::SYNC_RANGE, mc::RAX, n, n, n) | read_len,
    );

    wanted
        .into_iter()
        .filter_map(|(name, cookie)| {
            let func = bin.function(&name)?;
            let code = code_of(bin, &func)?;
            let at = entry_at(Some(code), func.entry);
            let rets = if cookie & mc::INSTANT != 0 {
                Vec::new()
            } else {
                ret_addrs(code, func.entry)
            };
            if cookie & mc::INSTANT == 0 && rets.is_empty() {
                return None;
            }
            Some(MapPoint {
                name,
                entry: func.entry + at.offset,
                rets,
                cookie: cookie | if at.frame { mc::AFTER_PROLOGUE } else { 0 },
            })
        })
        .collect()
}

/// Sampled mode: span refills and large allocations (at their prologues'
/// pushes, see [`entry_at`]).
#[derive(Debug, Clone)]
pub struct SamplePlan {
    pub refill: ProbePoint,
    pub large: Option<ProbePoint>,
    /// Object liveness samples (when the runtime's heap profile is off),
    /// each with the span in RAX. Empty: not sampled.
    pub live: Vec<LivePoint>,
}

/// Where a liveness sample is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivePoint {
    pub addr: u64,
    /// A large object's span (`(*mcache).allocLarge`'s RETs), else a span
    /// just taken by `(*mcache).refill`.
    pub large: bool,
    /// BP holds the probed function's own frame (see [`EntryAt::frame`]).
    pub frame: bool,
}

impl SamplePlan {
    /// Adds the liveness points (see [`SamplePlan::live`]); false if the
    /// functions or their RETs are not found. A refill's span is taken
    /// where `refill` checks `cacheSpan`'s result (a jump: the kernel
    /// emulates it, see `disasm::result_check_after_call`), else at each
    /// RET of `cacheSpan`; a large object's at each RET of `allocLarge`.
    pub fn add_liveness(
        &mut self,
        bin: &GoBinary,
        symbols: &crate::tracee::golayout::AllocStatsSymbols,
    ) -> bool {
        let rets = |name: &str| {
            bin.function(name)
                .and_then(|f| Some(ret_addrs(code_of(bin, &f)?, f.entry)))
                .unwrap_or_default()
        };
        let at_ret = |addr, large| LivePoint {
            addr,
            large,
            frame: false,
        };
        let checked = bin.function(symbols.cache_span).and_then(|span| {
            let refill = &self.refill.func;
            let code = code_of(bin, refill)?;
            disasm::result_check_after_call(code, refill.entry, span.entry)
                .map(|off| refill.entry + off)
        });
        let small: Vec<LivePoint> = match checked {
            Some(addr) => vec![LivePoint {
                addr,
                large: false,
                frame: true,
            }],
            None => rets(symbols.cache_span)
                .into_iter()
                .map(|a| at_ret(a, false))
                .collect(),
        };
        let large = rets(symbols.alloc_large);
        if small.is_empty() || large.is_empty() {
            return false;
        }
        self.live = small
            .into_iter()
            .chain(large.into_iter().map(|a| at_ret(a, true)))
            .collect();
        true
    }
}

pub fn sample_plan(
    bin: &GoBinary,
    symbols: &crate::tracee::golayout::AllocStatsSymbols,
) -> Result<SamplePlan, UserError> {
    let point = |name: &str| {
        bin.function(name)
            .map(|f| ProbePoint::new(bin, f, 0))
            .filter(|p| p.once)
    };
    let refill = point(symbols.refill).ok_or_else(|| {
        UserError::Unsupported(format!(
            "--mode sampled: {} not found or without a frame; use --mode exact",
            symbols.refill
        ))
    })?;
    Ok(SamplePlan {
        refill,
        large: point(symbols.alloc_large),
        live: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_probes_sit_on_the_frame_push() {
        let go = disasm::MALLOCGC_PROLOGUE;
        let at = entry_at(Some(&go), 0x1000);
        assert_eq!(
            at,
            EntryAt {
                offset: 10,
                frame: false,
                once: true
            }
        );
        assert!(disasm::emulated(&go[at.offset as usize..]));
        // No Go prologue (assembly): the entry itself, which morestack
        // cannot re-run.
        let asm = [0x48, 0x8b, 0x7c, 0x24, 0x08, 0xc3];
        assert_eq!(
            entry_at(Some(&asm), 0x1000),
            EntryAt {
                offset: 0,
                frame: false,
                once: false
            }
        );
        assert_eq!(entry_at(None, 0x1000).offset, 0);
    }
}
