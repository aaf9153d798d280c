//! Allocation counters: `runtime.mcache`, `runtime.mspan`,
//! `memstats.heapStats` (offsets, field widths, array lengths), the
//! constants sizing them, the symbols, the argument registers of
//! `(*mcache).refill` / `allocLarge`, and the size class table of
//! `crate::tracee::sizeclass` against the toolchain's sources.

use std::path::Path;

use crate::tracee::golayout::layout::Layout;
use crate::tracee::golayout::tests::checker::Checker;
use crate::tracee::golayout::tests::checks::abi::param_regs;
use crate::tracee::golayout::tests::source;

pub fn check(c: &mut Checker<'_>, l: &Layout, src: &Path) {
    let a = &l.alloc_stats;
    const MCACHE: &[&str] = &["runtime.mcache"];
    const MSPAN: &[&str] = &["runtime.mspan"];
    const MSTATS: &[&str] = &["runtime.mstats"];
    const CONS: &[&str] = &["runtime.consistentHeapStats"];
    const DELTA: &[&str] = &["runtime.heapStatsDelta"];

    let m = &a.mcache;
    c.member(
        "alloc_stats.mcache.tiny_allocs",
        MCACHE,
        "tinyAllocs",
        m.tiny_allocs,
    );
    c.member_size("alloc_stats.mcache.tiny_allocs", MCACHE, "tinyAllocs", 8);
    c.member("alloc_stats.mcache.alloc", MCACHE, "alloc", m.alloc);
    c.member_size(
        "alloc_stats.mcache.num_span_classes",
        MCACHE,
        "alloc",
        m.num_span_classes * 8,
    );
    c.constant(
        "alloc_stats.mcache.num_span_classes",
        &["runtime.numSpanClasses"],
        m.num_span_classes as i64,
    );
    c.constant(
        "alloc_stats.mcache.tiny_span_class",
        &["runtime.tinySpanClass"],
        i64::from(m.tiny_span_class),
    );
    // tinySpanClass = tinySizeClass<<1 | noscan.
    if let Some(&tiny) = c.dwarf.consts.get("runtime.tinySizeClass") {
        c.eq(
            "alloc_stats.mcache.tiny_span_class",
            i64::from(m.tiny_span_class),
            tiny << 1 | 1,
            "runtime.tinySizeClass<<1 | 1",
        );
    }

    let s = &a.mspan;
    c.member("alloc_stats.mspan.nelems", MSPAN, "nelems", s.nelems);
    c.member_size(
        "alloc_stats.mspan.nelems_size",
        MSPAN,
        "nelems",
        s.nelems_size,
    );
    c.member(
        "alloc_stats.mspan.alloc_count",
        MSPAN,
        "allocCount",
        s.alloc_count,
    );
    c.member_size("alloc_stats.mspan.alloc_count", MSPAN, "allocCount", 2);
    c.member(
        "alloc_stats.mspan.alloc_count_before_cache",
        MSPAN,
        "allocCountBeforeCache",
        s.alloc_count_before_cache,
    );
    c.member_size(
        "alloc_stats.mspan.alloc_count_before_cache",
        MSPAN,
        "allocCountBeforeCache",
        2,
    );
    c.member("alloc_stats.mspan.elemsize", MSPAN, "elemsize", s.elemsize);
    c.member_size("alloc_stats.mspan.elemsize", MSPAN, "elemsize", 8);
    c.member(
        "alloc_stats.mspan.spanclass",
        MSPAN,
        "spanclass",
        s.spanclass,
    );
    c.member_size("alloc_stats.mspan.spanclass", MSPAN, "spanclass", 1);
    let fields = [
        ("start_addr", "startAddr", s.start_addr, 8),
        ("limit", "limit", s.limit, 8),
        ("freeindex", "freeindex", s.freeindex, s.nelems_size),
        ("alloc_cache", "allocCache", s.alloc_cache, 8),
        ("alloc_bits", "allocBits", s.alloc_bits, 8),
        ("sweepgen", "sweepgen", s.sweepgen, 4),
        ("state", "state", s.state, 1),
    ];
    for (field, go, off, size) in fields {
        let what = format!("alloc_stats.mspan.{field}");
        c.member(&what, MSPAN, go, off);
        c.member_size(&what, MSPAN, go, size);
    }
    c.constant(
        "alloc_stats.mspan.state_in_use",
        &["runtime.mSpanInUse"],
        i64::from(s.state_in_use),
    );
    c.member(
        "alloc_stats.mheap.sweepgen",
        &["runtime.mheap"],
        "sweepgen",
        a.mheap.sweepgen,
    );
    c.member_size(
        "alloc_stats.mheap.sweepgen",
        &["runtime.mheap"],
        "sweepgen",
        4,
    );
    c.var(
        "alloc_stats.symbols.mheap",
        a.symbols.mheap,
        "runtime.mheap",
    );

    let h = &a.heap_stats;
    c.member(
        "alloc_stats.heap_stats.memstats_heap_stats",
        MSTATS,
        "heapStats",
        h.memstats_heap_stats,
    );
    c.member("alloc_stats.heap_stats.stats", CONS, "stats", h.stats);
    c.member_size(
        "alloc_stats.heap_stats.generations",
        CONS,
        "stats",
        h.generations * h.delta_size,
    );
    c.member("alloc_stats.heap_stats.gen", CONS, "gen", h.gen);
    c.member_size("alloc_stats.heap_stats.gen", CONS, "gen", 4);
    c.size("alloc_stats.heap_stats.delta_size", DELTA, h.delta_size);
    let counters = [
        ("committed", "committed", h.committed, 8),
        ("released", "released", h.released, 8),
        ("tiny_alloc_count", "tinyAllocCount", h.tiny_alloc_count, 8),
        ("large_alloc", "largeAlloc", h.large_alloc, 8),
        (
            "large_alloc_count",
            "largeAllocCount",
            h.large_alloc_count,
            8,
        ),
        (
            "small_alloc_count",
            "smallAllocCount",
            h.small_alloc_count,
            h.num_size_classes * 8,
        ),
        ("large_free", "largeFree", h.large_free, 8),
        ("large_free_count", "largeFreeCount", h.large_free_count, 8),
        (
            "small_free_count",
            "smallFreeCount",
            h.small_free_count,
            h.num_size_classes * 8,
        ),
    ];
    for (field, go, off, size) in counters {
        let what = format!("alloc_stats.heap_stats.{field}");
        c.member(&what, DELTA, go, off);
        c.member_size(&what, DELTA, go, size);
    }
    c.constant(
        "alloc_stats.heap_stats.num_size_classes",
        &[
            "runtime._NumSizeClasses",
            "internal/runtime/gc.NumSizeClasses",
        ],
        h.num_size_classes as i64,
    );
    c.eq(
        "alloc_stats.mcache.num_span_classes",
        m.num_span_classes,
        h.num_size_classes << 1,
        "numSpanClasses = _NumSizeClasses << 1",
    );

    // What `AllocCounters::bytes` multiplies by, and how many there are.
    match source::class_to_size(src) {
        Ok(truth) => {
            let ours: Vec<u64> = (0..)
                .map_while(crate::tracee::sizeclass::class_size)
                .collect();
            c.eq(
                "sizeclass::class_size",
                ours,
                truth.clone(),
                "sizeclasses.go",
            );
            c.eq(
                "alloc_stats.heap_stats.num_size_classes",
                h.num_size_classes,
                truth.len() as u64,
                "sizeclasses.go table length",
            );
        }
        Err(e) => c.fail("sizeclass::class_size", e),
    }
    // What the governor divides a class's object rate by (a span's
    // objects: the fewest refills that rate takes).
    match source::class_to_npages(src) {
        Ok(truth) => {
            let ours: Vec<u64> = (0..)
                .map_while(crate::tracee::sizeclass::class_npages)
                .collect();
            c.eq("sizeclass::class_npages", ours, truth, "sizeclasses.go");
        }
        Err(e) => c.fail("sizeclass::class_npages", e),
    }

    let y = &a.symbols;
    c.var("alloc_stats.symbols.memstats", y.memstats, "runtime.mstats");
    c.var(
        "alloc_stats.symbols.empty_mspan",
        y.empty_mspan,
        "runtime.mspan",
    );
    for (what, name) in [
        ("alloc_stats.symbols.refill", y.refill),
        ("alloc_stats.symbols.alloc_large", y.alloc_large),
        ("alloc_stats.symbols.release_all", y.release_all),
        (
            "alloc_stats.symbols.heap_stats_acquire",
            y.heap_stats_acquire,
        ),
        (
            "alloc_stats.symbols.heap_stats_release",
            y.heap_stats_release,
        ),
    ] {
        c.func(what, name);
    }

    // Registers by the ABI rule from the DWARF parameter lists (the
    // register order itself is checked by `abi::check`).
    let regs = l.abi.int_arg_regs;
    let checks = [
        ("alloc_stats.refill.c", y.refill, "c", a.refill.c),
        ("alloc_stats.refill.spc", y.refill, "spc", a.refill.spc),
        (
            "alloc_stats.alloc_large.c",
            y.alloc_large,
            "c",
            a.alloc_large.c,
        ),
        (
            "alloc_stats.alloc_large.size",
            y.alloc_large,
            "size",
            a.alloc_large.size,
        ),
        (
            "alloc_stats.alloc_large.noscan",
            y.alloc_large,
            "noscan",
            a.alloc_large.noscan,
        ),
    ];
    for (what, func, param, table) in checks {
        let Some(found) = param_regs(c, what, func, &regs) else {
            continue;
        };
        c.eq(
            what,
            Some(table),
            found.get(param).copied(),
            &format!("DWARF parameters of {func}"),
        );
    }
}
