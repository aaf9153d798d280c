//! The runtime's own heap profile, read from outside the process: the
//! buckets `runtime.MemProfile` / `/debug/pprof/heap` report, read-only
//! (`process_vm_readv`), no probe and no stop.
//!
//! The runtime samples one allocation per `MemProfileRate` bytes on average
//! (512 KiB by default) into a bucket per (stack, object size), and
//! publishes allocations and frees a GC cycle late (`memRecord.future[3]`
//! → `active` at each mark termination), so the profile is the heap as of
//! the last completed GC. [`HeapProfileReader::read`] returns the counts
//! exactly as `memProfileInternal` would at that moment: `active` plus the
//! cycle it would flush (`future[cycle % 3]`), or, before the first GC
//! published anything, every cycle summed (its "clear" case).
//!
//! The linker switches the profile off in most binaries (nothing reaches
//! `runtime.MemProfile` / `memProfileInternal`: `disableMemoryProfiling`,
//! then `MemProfileRate = 0` at start-up); [`HeapProfileReader::rate`]
//! says so and the caller then has no runtime profile.
//!
//! The globals are found in `.symtab`, or in stripped binaries among the
//! RIP-relative operands that the functions using them have in common,
//! each candidate checked against live memory.

use anyhow::{bail, Result};

use crate::tracee::gobin::GoBinary;
use crate::tracee::golayout::HeapProfileLayout;
use crate::tracee::goroutines::{shared_operands, symtab_address};
use crate::tracee::procmem::ProcMem;

/// At most this many buckets are read per profile (a program allocating
/// from a million distinct stacks is beyond what a report can show).
pub const MAX_BUCKETS: usize = 200_000;

/// One bucket of the profile: objects of one size from one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeapRecord {
    /// Object size (bytes) of every sample in the bucket.
    pub size: u64,
    /// Sampled allocations and frees since the process started, as of the
    /// last completed GC.
    pub allocs: u64,
    pub frees: u64,
    /// Return PCs (runtime addresses), innermost first, one per logical
    /// frame (inlined calls expanded by the runtime).
    pub stack: Vec<u64>,
}

impl HeapRecord {
    pub fn inuse(&self) -> u64 {
        self.allocs.saturating_sub(self.frees)
    }
}

#[derive(Debug, Clone, Default)]
pub struct HeapProfile {
    /// `MemProfileRate` when read (bytes per sample).
    pub rate: u64,
    /// The profile cycle (`mProfCycle >> 1`: GC cycles since start, as the
    /// profile counts them).
    pub cycle: u32,
    pub records: Vec<HeapRecord>,
    /// More buckets than [`MAX_BUCKETS`]: the rest were not read.
    pub truncated: bool,
}

/// Where the profile's globals are in the target.
#[derive(Debug, Clone)]
pub struct HeapProfileReader {
    layout: HeapProfileLayout,
    mbuckets: u64,
    rate: u64,
    cycle: u64,
}

impl HeapProfileReader {
    /// Finds `mbuckets`, `MemProfileRate` and `mProfCycle` (`bias`: the
    /// executable's load bias). `exe`: the executable's bytes, if it has a
    /// `.symtab`.
    pub fn locate(
        mem: &ProcMem,
        bin: &GoBinary,
        layout: &HeapProfileLayout,
        exe: Option<&[u8]>,
        bias: u64,
    ) -> Result<HeapProfileReader> {
        let sym = &layout.symbols;
        let find = |name: &str, users: &[&str], size: Option<usize>| -> Vec<u64> {
            let mut out: Vec<u64> = exe
                .and_then(|e| symtab_address(e, name))
                .into_iter()
                .collect();
            out.extend(shared_operands(bin, users, size));
            out.dedup();
            out.into_iter().map(|a| a.wrapping_add(bias)).collect()
        };
        let pick = |name: &str, cands: Vec<u64>, ok: &dyn Fn(u64) -> bool| -> Result<u64> {
            match cands.iter().copied().find(|&a| ok(a)) {
                Some(a) => Ok(a),
                None if cands.is_empty() => {
                    bail!("cannot find {name} (no symbol, no code using it)")
                }
                None => bail!("no candidate for {name} checks out ({} tried)", cands.len()),
            }
        };
        let rate = pick(
            sym.mem_profile_rate,
            find(sym.mem_profile_rate, &sym.rate_users, Some(8)),
            &|a| mem.read_u64(a).is_ok_and(|v| (v as i64) >= 0),
        )?;
        let cycle = pick(
            sym.mprof_cycle,
            find(sym.mprof_cycle, &sym.cycle_users, Some(4)),
            &|a| mem.read_u32(a + layout.cycle_holder_value).is_ok(),
        )?;
        let mbuckets = pick(
            sym.mbuckets,
            find(sym.mbuckets, &sym.bucket_users, None),
            &|a| {
                mem.read_u64(a)
                    .is_ok_and(|head| head == 0 || bucket_header(mem, layout, head).is_ok())
            },
        )?;
        Ok(HeapProfileReader {
            layout: *layout,
            mbuckets,
            rate,
            cycle,
        })
    }

    /// `MemProfileRate` now: 0 means the profile is off.
    pub fn rate(&self, mem: &ProcMem) -> Result<u64> {
        Ok(mem.read_u64(self.rate)?)
    }

    /// The profile as `memProfileInternal` would return it now.
    pub fn read(&self, mem: &ProcMem) -> Result<HeapProfile> {
        let l = &self.layout;
        let rate = self.rate(mem)?;
        let cycle = mem.read_u32(self.cycle + l.cycle_holder_value)? >> 1;
        let flush = u64::from(cycle) % l.futures;
        let mut records = Vec::new();
        let mut truncated = false;
        let mut b = mem.read_u64(self.mbuckets)?;
        // (active, every future) per record, for the "nothing published" case.
        let mut futures_sum = Vec::new();
        let record_len = (l.record_future + l.futures * l.cycle_size) as usize;
        while b != 0 {
            if records.len() >= MAX_BUCKETS {
                truncated = true;
                break;
            }
            let (size, nstk, next) = bucket_header(mem, l, b)?;
            let mut buf = vec![0u8; nstk as usize * 8 + record_len];
            mem.read(b + l.bucket_header, &mut buf)?;
            let (stk, rec) = buf.split_at(nstk as usize * 8);
            let word = |off: u64| -> u64 {
                let at = off as usize;
                rec.get(at..at + 8)
                    .and_then(|s| s.try_into().ok())
                    .map_or(0, u64::from_le_bytes)
            };
            let cycle_at =
                |c: u64| -> (u64, u64) { (word(c + l.cycle_allocs), word(c + l.cycle_frees)) };
            let active = cycle_at(l.record_active);
            let future = |i: u64| cycle_at(l.record_future + i * l.cycle_size);
            let (fa, ff) = future(flush);
            let all = (0..l.futures).fold(active, |(a, f), i| {
                let (x, y) = future(i);
                (a.wrapping_add(x), f.wrapping_add(y))
            });
            futures_sum.push(all);
            records.push(HeapRecord {
                size,
                allocs: active.0.wrapping_add(fa),
                frees: active.1.wrapping_add(ff),
                stack: stk
                    .as_chunks::<8>()
                    .0
                    .iter()
                    .map(|w| u64::from_le_bytes(*w))
                    .collect(),
            });
            b = next;
        }
        if records.iter().all(|r| r.allocs == 0 && r.frees == 0) {
            // No GC has published anything yet: the runtime then sums every
            // cycle (memProfileInternal's "clear" case).
            for (r, (a, f)) in records.iter_mut().zip(futures_sum) {
                r.allocs = a;
                r.frees = f;
            }
        }
        Ok(HeapProfile {
            rate,
            cycle,
            records,
            truncated,
        })
    }
}

/// (size, nstk, allnext) of the bucket at `b`, if it is a memory-profile
/// bucket.
fn bucket_header(mem: &ProcMem, l: &HeapProfileLayout, b: u64) -> Result<(u64, u64, u64)> {
    let mut h = vec![0u8; l.bucket_header as usize];
    mem.read(b, &mut h)?;
    let word = |off: u64| {
        h.get(off as usize..off as usize + 8)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let (typ, size, nstk) = (word(l.bucket_typ), word(l.bucket_size), word(l.bucket_nstk));
    if typ != l.mem_profile {
        bail!("bucket {b:#x} has type {typ}, not a memory-profile bucket");
    }
    if nstk > l.max_stack {
        bail!("bucket {b:#x} has {nstk} PCs (at most {})", l.max_stack);
    }
    Ok((size, nstk, word(l.bucket_allnext)))
}
