//! Profiles of one process, built every period without a probe:
//! - `goroutine`: the program's goroutines by creation site (the `go`
//!   statement; not their current stacks);
//! - `heap`, when the runtime's heap profile is on: Go's four heap sample
//!   types at every allocation stack, scaled as `runtime/pprof` scales,
//!   `alloc_*` counted since the previous profile of this process (the
//!   first one: since the process started), `inuse_*` as of the last GC.
//!
//! Each is a gzipped pprof that `go tool pprof` reads.

use std::collections::HashMap;
use std::sync::Mutex;

use super::binaries::Binaries;
use super::sites::SiteReader;
use crate::collect::inuse::scale;
use crate::report::pprof::{Pprof, PprofMeta};
use crate::tracee::goroutines::GInfo;

/// One profile of one process.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `heap`, `goroutine`, or from an allocation slice `alloc`, `cpu` and
    /// (the heap profile off) `inuse`.
    pub kind: &'static str,
    /// What it covers (ns since the epoch).
    pub from_ns: u64,
    pub until_ns: u64,
    /// Gzipped pprof.
    pub data: Vec<u8>,
    /// `(type, unit)` of its sample types, for backends that ask.
    pub sample_types: &'static [(&'static str, &'static str)],
}

pub const HEAP_TYPES: &[(&str, &str)] = &[
    ("alloc_objects", "count"),
    ("alloc_space", "bytes"),
    ("inuse_objects", "count"),
    ("inuse_space", "bytes"),
];
/// A slice's allocation, CPU and (sampled) in-use profiles: `tracer
/// attach --pprof`'s columns of each, alone.
pub use crate::report::pprof::{ALLOC_TYPES, CPU_TYPES, INUSE_TYPES};
pub const GOROUTINE_TYPES: &[(&str, &str)] = &[("goroutine", "count")];

/// Allocation counts at the previous heap profile, per (stack, size).
#[derive(Debug, Default)]
pub struct HeapDeltas {
    prev: HashMap<(Vec<u64>, u64), u64>,
    at_ns: Option<u64>,
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The profiles of the process `sites` reads, now (`now_ns`); `since_ns`:
/// when the agent started watching it.
pub fn build(
    sites: &SiteReader,
    deltas: &Mutex<HeapDeltas>,
    binaries: &Mutex<Binaries>,
    goroutines: &[GInfo],
    exe: &str,
    since_ns: u64,
    now_ns: u64,
) -> Vec<Profile> {
    let mut out = Vec::new();
    let heap = sites.heap_profile().filter(|p| p.rate > 0);
    let records = heap.as_ref().map_or(&[][..], |p| &p.records[..]);
    let (heap_names, go_names) = sites.stacks(binaries, records, goroutines);

    let mut p = Pprof::new(GOROUTINE_TYPES);
    let mut by_site: HashMap<&str, (usize, i64)> = HashMap::new();
    for (i, name) in go_names.iter().enumerate() {
        by_site.entry(name.site.as_str()).or_insert((i, 0)).1 += 1;
    }
    let mut rows: Vec<(usize, i64)> = by_site.into_values().collect();
    rows.sort_unstable();
    for (i, n) in rows {
        p.add(&go_names[i].frames, vec![n]);
    }
    let meta = |duration: u64, period_type, period, default| PprofMeta {
        exe,
        time_nanos: now_ns - duration,
        duration_nanos: duration,
        period_type,
        period,
        comments: vec![format!(
            "tracer agent: {exe}, read from the runtime without a probe"
        )],
        default_sample_type: default,
        drop_runtime: true,
    };
    if let Ok(data) = p.finish(meta(0, ("goroutine", "count"), 1, "goroutine")) {
        out.push(Profile {
            kind: "goroutine",
            from_ns: now_ns,
            until_ns: now_ns,
            data,
            sample_types: GOROUTINE_TYPES,
        });
    }

    let Some(heap) = heap.as_ref() else {
        return out;
    };
    let mut d = deltas.lock().unwrap_or_else(|e| e.into_inner());
    let from = d.at_ns.unwrap_or(since_ns);
    let mut p = Pprof::new(HEAP_TYPES);
    let mut next = HashMap::with_capacity(records.len());
    for (r, name) in records.iter().zip(&heap_names) {
        let key = (r.stack.clone(), r.size);
        let before = d.prev.get(&key).copied().unwrap_or(0);
        let (ao, ab) = scale(r.allocs.saturating_sub(before), r.size, heap.rate);
        let (io, ib) = scale(r.inuse(), r.size, heap.rate);
        next.insert(key, r.allocs);
        if ao == 0 && io == 0 {
            continue;
        }
        p.add(&name.frames, vec![int(ao), int(ab), int(io), int(ib)]);
    }
    d.prev = next;
    d.at_ns = Some(now_ns);
    if let Ok(data) = p.finish(meta(
        now_ns - from,
        ("space", "bytes"),
        heap.rate,
        "inuse_space",
    )) {
        out.push(Profile {
            kind: "heap",
            from_ns: from,
            until_ns: now_ns,
            data,
            sample_types: HEAP_TYPES,
        });
    }
    out
}
