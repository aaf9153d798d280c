//! Which runtime functions to probe for a given Go binary, and with which
//! size floor (attach cookie), so that every allocation is counted once.
use tracer_common::COOKIE_AFTER_PROLOGUE;

use crate::{
    disasm,
    error::UserError,
    gobin::{FuncInfo, GoBinary},
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
    /// The probe sits after the prologue (see `disasm::after_prologue`).
    pub after_prologue: bool,
}

impl ProbePoint {
    /// Prefers the first instruction after the prologue: an entry probe
    /// fires again each time morestack restarts the function.
    fn new(bin: &GoBinary, func: FuncInfo, min_size: u64) -> ProbePoint {
        let skip = code_of(bin, &func).and_then(|code| disasm::after_prologue(code, func.entry));
        ProbePoint {
            addr: func.entry + skip.unwrap_or(0),
            after_prologue: skip.is_some(),
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

/// A function timed from after its prologue to each of its RETs.
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
    let skip = disasm::after_prologue(code, func.entry).unwrap_or(0);
    Ok(TimedFunc {
        name: func.name.clone(),
        entry: func.entry + skip,
        rets,
    })
}

/// Where goroutine lifetimes are observed.
#[derive(Debug, Clone)]
pub struct GoroutinePlan {
    /// Each RET of runtime.newproc1 (RAX holds the new g there).
    pub created: Vec<u64>,
    /// runtime.goexit1 after its prologue (R14 holds the exiting g).
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

/// runtime.madvise (assembly, ABI0, no prologue): probed at its entry.
pub fn madvise_point(bin: &GoBinary) -> Option<u64> {
    bin.function("runtime.madvise").map(|f| f.entry)
}
