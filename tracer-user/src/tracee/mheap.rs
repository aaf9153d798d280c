//! The heap's globals that sampled object liveness reads, found in the
//! target: `runtime.mheap_` (its `sweepgen` says which GC a span's bits are
//! from) and `runtime.gcphase` (while it is `_GCmark`, every span has just
//! been swept for the cycle that is ending).
use anyhow::Result;

use crate::tracee::gobin::GoBinary;
use crate::tracee::golayout::AllocStatsLayout;
use crate::tracee::procmem::ProcMem;

use crate::tracee::goroutines::{shared_operands, symtab_address};

/// The first candidate (link-time, `.symtab`'s first) that checks out in
/// live memory, as a runtime address.
fn first_valid(
    name: &str,
    symbol: Option<u64>,
    code: Vec<u64>,
    bias: u64,
    ok: impl Fn(u64) -> bool,
) -> Result<u64> {
    let mut cands: Vec<u64> = symbol.into_iter().chain(code).collect();
    cands.dedup();
    cands
        .iter()
        .map(|a| a.wrapping_add(bias))
        .find(|&a| ok(a))
        .ok_or_else(|| anyhow::anyhow!("cannot find {name} ({} candidates checked)", cands.len()))
}

/// Runtime address of `runtime.mheap_` (`bias`: the executable's load
/// bias; `exe`: its bytes when it has a `.symtab`): the symbol, or the
/// receiver of `mheap_.alloc(…)` in `(*mcentral).grow`. The candidate must
/// hold an even `sweepgen` (it moves by 2 per GC cycle).
pub fn locate_mheap(
    mem: &ProcMem,
    bin: &GoBinary,
    layout: &AllocStatsLayout,
    exe: Option<&[u8]>,
    bias: u64,
) -> Result<u64> {
    let sym = &layout.symbols;
    let mut code = Vec::new();
    if let (Some(grow), Some(alloc)) = (
        bin.function(sym.mcentral_grow),
        bin.function(sym.mheap_alloc),
    ) {
        if let Some(bytes) = bin.text_bytes(grow.entry, grow.end.saturating_sub(grow.entry)) {
            code = crate::tracee::disasm::rax_globals_passed_to(bytes, grow.entry, alloc.entry);
        }
    }
    let symbol = exe.and_then(|e| symtab_address(e, sym.mheap));
    first_valid(sym.mheap, symbol, code, bias, |a| {
        mem.read_u32(a + layout.mheap.sweepgen)
            .is_ok_and(|sg| sg % 2 == 0)
    })
}

/// Runtime address of `runtime.gcphase`: the symbol, or the 32-bit operand
/// the functions that compare it share; it must read 0, 1 or 2.
pub fn locate_gcphase(
    mem: &ProcMem,
    bin: &GoBinary,
    layout: &AllocStatsLayout,
    exe: Option<&[u8]>,
    bias: u64,
) -> Result<u64> {
    let sym = &layout.symbols;
    let symbol = exe.and_then(|e| symtab_address(e, sym.gcphase));
    let code = shared_operands(bin, &sym.gcphase_users, Some(4));
    first_valid(sym.gcphase, symbol, code, bias, |a| {
        mem.read_u32(a).is_ok_and(|p| p <= 2)
    })
}
