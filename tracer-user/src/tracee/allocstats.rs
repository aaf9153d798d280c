//! The Go runtime's own allocation counters, read from outside the process:
//! the totals a sampled allocation mode scales its samples against.
//!
//! The runtime keeps them in `runtime.memstats.heapStats` (a
//! `consistentHeapStats`, `runtime/mstats.go`): three `heapStatsDelta`
//! generations whose sum is the total. Small objects are credited per span
//! (when `(*mcache).refill` retires a full span and when `releaseAll`
//! flushes an mcache), tiny objects when the tiny span is refilled or the
//! mcache flushed, large objects at once (`(*mcache).allocLarge`); see
//! `golayout/heapstats.rs`. So between flushes the counters lag the program
//! by at most what the mcaches hold; right after `runtime.ReadMemStats`
//! (which flushes every mcache under stop-the-world) they equal its
//! `MemStats` exactly, and [`AllocCounters::objects`] / [`bytes`] /
//! [`frees`] compute `Mallocs` / `TotalAlloc` / `Frees` the way
//! `readmemstats_m` does (same in Go 1.21–1.27).
//!
//! Reading races with the program (`process_vm_readv`, never a write, never
//! a stop). Two races are handled: `runtime/metrics.Read` rotating the
//! generations while we copy them (detected: see [`read`]), and counters
//! moving on (harmless: each is monotonic, a snapshot is a valid earlier
//! state up to the counters that changed during the copy).
//!
//! `runtime.memstats` is found in `.symtab`, or in stripped binaries from
//! the code: `memstats.heapStats.acquire()` compiles to `LEAQ
//! runtime.memstats(SB), AX; CALL runtime.(*consistentHeapStats).acquire`
//! in `refill`, `allocLarge` and `releaseAll` ([`crate::tracee::disasm::rax_globals_passed_to`]).
//!
//! [`bytes`]: AllocCounters::bytes
//! [`frees`]: AllocCounters::frees

// Sampled mode reads the per-class counts (`sampling/attribute.rs`); the
// `MemStats`-style totals below are what the tests compare with.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;

use anyhow::{bail, Result};

use crate::tracee::gobin::GoBinary;
use crate::tracee::golayout::AllocStatsLayout;
use crate::tracee::goroutines::Found;
use crate::tracee::procmem::ProcMem;

/// Cumulative allocation counters of a Go process, summed over the
/// generations of `memstats.heapStats` (as `consistentHeapStats.unsafeRead`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocCounters {
    /// Small objects allocated, index = size class (`smallAllocCount`).
    /// Tiny allocations appear here as the 16-byte blocks (class 2) they
    /// were packed into.
    pub small_by_class: Vec<u64>,
    /// Tiny allocations, each counted (`tinyAllocCount`).
    pub tiny: u64,
    /// Large objects allocated (`largeAllocCount`).
    pub large_objects: u64,
    /// Bytes of large objects, whole pages (`largeAlloc`).
    pub large_bytes: u64,
    /// Small objects freed, index = size class (`smallFreeCount`).
    pub small_frees_by_class: Vec<u64>,
    /// Large objects freed (`largeFreeCount`).
    pub large_free_objects: u64,
    /// Bytes of large objects freed (`largeFree`).
    pub large_free_bytes: u64,
    /// Heap bytes returned to the OS (`released`: `MemStats.HeapReleased`).
    pub released_bytes: u64,
    /// Heap memory committed (`committed`): lowered only by the scavenger
    /// returning pages to the OS, raised when it reuses them.
    pub committed_bytes: u64,
}

impl AllocCounters {
    /// Objects allocated: `MemStats.Mallocs` (`readmemstats_m`: large +
    /// small by class + tiny; tiny objects count one by one).
    pub fn objects(&self) -> u64 {
        self.small_by_class
            .iter()
            .fold(self.large_objects, |n, &c| n.wrapping_add(c))
            .wrapping_add(self.tiny)
    }

    /// Bytes allocated: `MemStats.TotalAlloc` (large bytes + small objects
    /// × their class's slot size; tiny allocations count as their blocks).
    pub fn bytes(&self) -> u64 {
        Self::class_bytes(&self.small_by_class).wrapping_add(self.large_bytes)
    }

    /// Objects freed: `MemStats.Frees` (tiny objects count as freed at
    /// once, as in `readmemstats_m`).
    pub fn frees(&self) -> u64 {
        self.small_frees_by_class
            .iter()
            .fold(self.large_free_objects, |n, &c| n.wrapping_add(c))
            .wrapping_add(self.tiny)
    }

    /// Bytes freed (the runtime's `totalFree`; `HeapAlloc = bytes - freed_bytes`).
    pub fn freed_bytes(&self) -> u64 {
        Self::class_bytes(&self.small_frees_by_class).wrapping_add(self.large_free_bytes)
    }

    /// Small objects of size class `class` allocated and not yet freed
    /// (live, plus garbage the sweep has not freed yet).
    pub fn small_live(&self, class: usize) -> u64 {
        let freed = self.small_frees_by_class.get(class).copied().unwrap_or(0);
        self.small_by_class
            .get(class)
            .copied()
            .unwrap_or(0)
            .saturating_sub(freed)
    }

    fn class_bytes(by_class: &[u64]) -> u64 {
        by_class.iter().enumerate().fold(0u64, |sum, (class, &n)| {
            let size = crate::tracee::sizeclass::class_size(class).unwrap_or(0);
            sum.wrapping_add(n.wrapping_mul(size))
        })
    }
}

/// Link-time addresses of `runtime.memstats`, best first, each with how it
/// was found: the `.symtab` symbol (if `exe`, the whole ELF file, has one),
/// then receivers of `heapStats.acquire()` / `release()` calls in the
/// code, most often seen first.
pub fn candidates(
    bin: &GoBinary,
    layout: &AllocStatsLayout,
    exe: Option<&[u8]>,
) -> Vec<(u64, Found)> {
    let sym = &layout.symbols;
    let mut out: Vec<(u64, Found)> = exe
        .and_then(|e| crate::tracee::goroutines::symtab_address(e, sym.memstats))
        .map(|a| (a, Found::Symtab))
        .into_iter()
        .collect();
    let callees: Vec<u64> = [sym.heap_stats_acquire, sym.heap_stats_release]
        .iter()
        .filter_map(|n| bin.function(n))
        .map(|f| f.entry)
        .collect();
    // address → (calls seen, first function seen in)
    let mut votes: BTreeMap<u64, (usize, &'static str)> = BTreeMap::new();
    for caller in [sym.refill, sym.alloc_large, sym.release_all] {
        let Some(f) = bin.function(caller) else {
            continue;
        };
        let Some(code) = bin.text_bytes(f.entry, f.end.saturating_sub(f.entry)) else {
            continue;
        };
        for &callee in &callees {
            for a in crate::tracee::disasm::rax_globals_passed_to(code, f.entry, callee) {
                let addr = a.wrapping_sub(layout.heap_stats.memstats_heap_stats);
                votes.entry(addr).or_insert((0, caller)).0 += 1;
            }
        }
    }
    let mut code: Vec<(u64, (usize, &'static str))> = votes.into_iter().collect();
    code.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    for (addr, (_, caller)) in code {
        if !out.iter().any(|c| c.0 == addr) {
            out.push((addr, Found::Code(caller)));
        }
    }
    out
}

/// Runtime address of `runtime.memstats` in the target (`bias`: the load
/// bias of the executable, 0 unless PIE). The `.symtab` symbol is
/// preferred; every candidate must look like `heapStats` in live memory.
pub fn locate(mem: &ProcMem, bin: &GoBinary, layout: &AllocStatsLayout, bias: u64) -> Result<u64> {
    let cands = candidates(bin, layout, bin.symtab_file());
    if cands.is_empty() {
        bail!(
            "cannot find {} (no .symtab symbol, no heapStats.acquire() call in {} / {} / {})",
            layout.symbols.memstats,
            layout.symbols.refill,
            layout.symbols.alloc_large,
            layout.symbols.release_all
        );
    }
    let mut why = Vec::new();
    for (link, found) in cands {
        let addr = link.wrapping_add(bias);
        match validate(mem, layout, addr) {
            Ok(()) => return Ok(addr),
            Err(e) => why.push(format!("{addr:#x} ({found:?}): {e}")),
        }
    }
    bail!(
        "no candidate for {} holds heap statistics: {}",
        layout.symbols.memstats,
        why.join("; ")
    )
}

/// `heapStats` at `memstats` is plausible: a generation number in range,
/// nothing counted for size class 0 (large objects are counted apart, so
/// the runtime never touches those two words), and not all zero (the heap
/// is committed before `main` runs).
fn validate(mem: &ProcMem, layout: &AllocStatsLayout, memstats: u64) -> Result<()> {
    let h = &layout.heap_stats;
    let (_, raw) = read_raw(mem, layout, memstats)?;
    if raw.gen >= h.generations {
        bail!("generation {} out of range", raw.gen);
    }
    for g in 0..h.generations {
        let small0 = raw.word(g, h.small_alloc_count);
        let free0 = raw.word(g, h.small_free_count);
        if small0 != 0 || free0 != 0 {
            bail!("size class 0 counted in generation {g} ({small0}, {free0})");
        }
    }
    if raw.bytes.iter().all(|&b| b == 0) {
        bail!("all zero");
    }
    Ok(())
}

/// The `stats` array of `heapStats` and the `gen` read after it, in one copy.
struct Raw {
    /// `stats[0..generations]`, `delta_size` bytes each.
    bytes: Vec<u8>,
    delta_size: u64,
    gen: u64,
}

impl Raw {
    /// The little-endian word at `off` in generation `g` (0 if out of range).
    fn word(&self, g: u64, off: u64) -> u64 {
        let at = (g * self.delta_size + off) as usize;
        self.bytes
            .get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    }

    fn generation_is_zero(&self, g: u64) -> bool {
        let at = (g * self.delta_size) as usize;
        self.bytes
            .get(at..at + self.delta_size as usize)
            .is_some_and(|s| s.iter().all(|&b| b == 0))
    }

    /// Sum over the generations of the word at `off` (wrapping, as the
    /// runtime's `merge` adds `uint64`s).
    fn sum(&self, generations: u64, off: u64) -> u64 {
        (0..generations).fold(0u64, |s, g| s.wrapping_add(self.word(g, off)))
    }
}

/// One copy of `heapStats`, and `gen` as read just before it: one system
/// call (`process_vm_readv` copies its ranges in order), as the default
/// mode polls it 40 times a second from the target's own CPU.
fn read_raw(mem: &ProcMem, layout: &AllocStatsLayout, memstats: u64) -> io::Result<(u32, Raw)> {
    let h = &layout.heap_stats;
    let start = memstats.wrapping_add(h.delta_in_memstats(0));
    let gen_addr = memstats.wrapping_add(h.gen_in_memstats());
    let stats_len = h.generations * h.delta_size;
    // `gen` follows `stats` (checked by the golayout tests), so one range
    // covers both and reads `gen` last.
    let len = (h.gen - h.stats + 4) as usize;
    let mut buf = vec![0u8; 4 + len];
    mem.read_ranges(&[(gen_addr, 4), (start, len)], &mut buf)?;
    let word = |at: usize| {
        buf.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map_or(u32::MAX, u32::from_le_bytes)
    };
    let before = word(0);
    let gen = word(4 + (h.gen - h.stats) as usize);
    buf.drain(..4);
    buf.truncate(stats_len as usize);
    Ok((
        before,
        Raw {
            bytes: buf,
            delta_size: h.delta_size,
            gen: u64::from(gen),
        },
    ))
}

/// Copies of `heapStats` tried before giving up on a rotation in progress.
const READ_ATTEMPTS: usize = 8;

/// The counters at `memstats` (runtime address from [`locate`]).
///
/// `runtime/metrics.Read` (`consistentHeapStats.read`) rotates the
/// generations: it switches writers to `gen+1`, merges `stats[gen-1]` into
/// `stats[gen]` and zeroes `stats[gen-1]`. Between rotations `stats[gen+1]`
/// is all zero; a copy taken while a rotation runs either sees `gen`
/// change (read before and, in the same copy, after the stats) or a
/// non-zero `stats[gen+1]`, and is retried. (A copy racing only the merge
/// of a rotation that started before our first look at `gen` and whose
/// zeroing finished before we reach that generation is not detectable; it
/// takes a metrics reader and this read to overlap within microseconds.)
pub fn read(mem: &ProcMem, layout: &AllocStatsLayout, memstats: u64) -> io::Result<AllocCounters> {
    let h = &layout.heap_stats;
    let gen_addr = memstats.wrapping_add(h.gen_in_memstats());
    let mut last = String::new();
    for _ in 0..READ_ATTEMPTS {
        let (before, raw) = read_raw(mem, layout, memstats)?;
        let before = u64::from(before);
        if raw.gen >= h.generations {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "heapStats.gen = {} at {gen_addr:#x}: not heap statistics",
                    raw.gen
                ),
            ));
        }
        let next = (raw.gen + 1) % h.generations;
        if before != raw.gen || !raw.generation_is_zero(next) {
            last = format!("generation {before} → {} (stats[{next}] in use)", raw.gen);
            continue;
        }
        return Ok(counters(&raw, layout));
    }
    Err(io::Error::new(
        io::ErrorKind::Interrupted,
        format!("heapStats kept rotating over {READ_ATTEMPTS} reads: {last}"),
    ))
}

fn counters(raw: &Raw, layout: &AllocStatsLayout) -> AllocCounters {
    let h = &layout.heap_stats;
    let n = h.generations;
    let by_class = |base: u64| -> Vec<u64> {
        (0..h.num_size_classes)
            .map(|i| raw.sum(n, base + 8 * i))
            .collect()
    };
    AllocCounters {
        small_by_class: by_class(h.small_alloc_count),
        tiny: raw.sum(n, h.tiny_alloc_count),
        large_objects: raw.sum(n, h.large_alloc_count),
        large_bytes: raw.sum(n, h.large_alloc),
        small_frees_by_class: by_class(h.small_free_count),
        large_free_objects: raw.sum(n, h.large_free_count),
        large_free_bytes: raw.sum(n, h.large_free),
        released_bytes: raw.sum(n, h.released),
        committed_bytes: raw.sum(n, h.committed),
    }
}

#[cfg(test)]
mod tests {
    //! testdata/go/allocstats built with every Go toolchain (default, `-s -w`,
    //! PIE, PIE + `-s -w`), run as our child (`process_vm_readv` needs no
    //! root then), read from outside right after each `runtime.ReadMemStats`
    //! of the program and compared with what it printed. Run with
    //! `--nocapture` for a per-build summary.

    use std::path::Path;

    use super::*;
    use crate::tracee::golayout::{layout_for, Layout};
    use crate::tracee::goroutines::tests::harness::{self, Flavour, GoChild};
    use crate::tracee::Target;

    const FIXTURE: &str = "allocstats";
    /// Rounds of allocation per run (the fixture allocates more each round
    /// and rotates the heapStats generations `round` times).
    const ROUNDS: usize = 3;

    fn open(exe: &Path) -> (GoBinary, &'static Layout) {
        let bin = GoBinary::open(exe).unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
        let (maj, min) = bin.build_info().version().expect("go version");
        let layout = layout_for(maj, min).unwrap_or_else(|| panic!("no layout for {maj}.{min}"));
        (bin, layout)
    }

    fn u(v: &serde_json::Value, key: &str) -> u64 {
        v[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} missing in {v}"))
    }

    /// Counters against one MemStats line of the fixture.
    fn check_round(what: &str, c: &AllocCounters, v: &serde_json::Value) {
        // The counters only grow, and the runtime's own goroutines may
        // allocate an object or two between ReadMemStats and our read
        // (seen once: +1 object on go1.25.5): exact up to that.
        let close = |ours: u64, theirs: u64, slack: u64, name: &str| {
            assert!(
                ours >= theirs && ours - theirs <= slack,
                "{what}: {name}: ours {ours}, MemStats {theirs}"
            );
        };
        close(c.objects(), u(v, "mallocs"), 4, "objects() vs Mallocs");
        close(
            c.bytes(),
            u(v, "total_alloc"),
            4 << 10,
            "bytes() vs TotalAlloc",
        );
        close(c.frees(), u(v, "frees"), 4, "frees() vs Frees");
        let by_size = v["by_size"].as_array().expect("by_size");
        // MemStats.BySize has 61 entries, the runtime 68 classes.
        assert!(by_size.len() <= c.small_by_class.len(), "{what}");
        for (class, e) in by_size.iter().enumerate() {
            assert_eq!(
                crate::tracee::sizeclass::class_size(class),
                Some(u(e, "size")),
                "{what}: size of class {class}"
            );
            let class_what = format!("class {class}");
            close(c.small_by_class[class], u(e, "mallocs"), 4, &class_what);
            close(c.small_frees_by_class[class], u(e, "frees"), 4, &class_what);
        }
        // The mix really has every kind in it.
        assert!(
            c.tiny > c.small_by_class[2],
            "{what}: tiny allocations share blocks"
        );
        assert!(c.large_objects >= 3, "{what}: large objects");
        assert_eq!(c.large_bytes % 8192, 0, "{what}: large bytes are pages");
    }

    #[test]
    fn counters_equal_readmemstats() {
        let mut summary = Vec::new();
        for go in harness::toolchains() {
            let version = harness::go_version(&go);
            for flavour in [
                Flavour::Default,
                Flavour::Stripped,
                Flavour::Pie,
                Flavour::PieStripped,
            ] {
                let what = format!("{version} {flavour:?}");
                let exe = harness::build(&go, FIXTURE, flavour);
                let (bin, layout) = open(&exe);
                let a = &layout.alloc_stats;
                let mut child = GoChild::spawn(&exe, &[]);
                assert_eq!(child.line(), format!("READY {}", child.pid()), "{what}");
                let target = Target::open(child.pid()).expect("target");
                let bias = target
                    .load_bias(bin.first_load_vaddr(), bin.is_pie())
                    .expect("load bias");
                assert_eq!(
                    bias != 0,
                    matches!(flavour, Flavour::Pie | Flavour::PieStripped),
                    "{what}: bias {bias:#x}"
                );
                let mem = ProcMem::new(child.pid());
                let addr = locate(&mem, &bin, a, bias).unwrap_or_else(|e| panic!("{what}: {e:#}"));
                let mut last = None;
                for round in 1..=ROUNDS {
                    let v = child.json();
                    let c = read(&mem, a, addr).unwrap_or_else(|e| panic!("{what}: {e}"));
                    check_round(&format!("{what} round {round}"), &c, &v);
                    last = Some((c.objects(), c.bytes(), c.tiny, c.large_objects));
                    if round < ROUNDS {
                        child.send("again");
                    }
                }
                summary.push(format!(
                    "{what}: memstats {addr:#x} (bias {bias:#x}); after {ROUNDS} rounds \
                     (objects, bytes, tiny, large) = {last:?}"
                ));
            }
        }
        for s in summary {
            eprintln!("{s}");
        }
    }

    /// The code-based locator (used when there is no `.symtab`) must find
    /// the same address as `.symtab`, from every caller it looks at.
    #[test]
    fn code_locator_matches_symtab() {
        for go in harness::toolchains() {
            let version = harness::go_version(&go);
            for flavour in [Flavour::Default, Flavour::Pie] {
                let what = format!("{version} {flavour:?}");
                let exe = harness::build(&go, FIXTURE, flavour);
                let (bin, layout) = open(&exe);
                let a = &layout.alloc_stats;
                let file = std::fs::read(&exe).expect("read exe");
                let sym = crate::tracee::goroutines::symtab_address(&file, a.symbols.memstats)
                    .unwrap_or_else(|| panic!("{what}: no {} in .symtab", a.symbols.memstats));
                let all = candidates(&bin, a, Some(&file));
                assert_eq!(all.first(), Some(&(sym, Found::Symtab)), "{what}");
                let code = candidates(&bin, a, None);
                assert_eq!(
                    code.iter().map(|c| c.0).collect::<Vec<_>>(),
                    vec![sym],
                    "{what}: code candidates {code:x?}"
                );
                assert_eq!(code[0].1, Found::Code(a.symbols.refill), "{what}");
                // Each caller alone finds it too.
                for caller in [
                    a.symbols.refill,
                    a.symbols.alloc_large,
                    a.symbols.release_all,
                ] {
                    let f = bin.function(caller).expect("caller");
                    let body = bin.text_bytes(f.entry, f.end - f.entry).expect("code");
                    let acquire = bin.function(a.symbols.heap_stats_acquire).expect("acquire");
                    let found =
                        crate::tracee::disasm::rax_globals_passed_to(body, f.entry, acquire.entry);
                    assert!(
                        !found.is_empty() && found.iter().all(|&x| x == sym),
                        "{what}: {caller}: {found:x?}"
                    );
                }
                eprintln!("{what}: runtime.memstats {sym:#x} (.symtab = code)");
            }
        }
    }

    #[test]
    fn formulas_mirror_readmemstats() {
        let mut c = AllocCounters {
            released_bytes: 0,
            committed_bytes: 0,
            small_by_class: vec![0; 68],
            tiny: 10,
            large_objects: 2,
            large_bytes: 3 * 8192,
            small_frees_by_class: vec![0; 68],
            large_free_objects: 1,
            large_free_bytes: 8192,
        };
        c.small_by_class[2] = 4; // 16 B
        c.small_by_class[67] = 1; // 32768 B
        c.small_frees_by_class[5] = 3; // 48 B
        assert_eq!(c.objects(), 2 + 4 + 1 + 10);
        assert_eq!(c.bytes(), 3 * 8192 + 4 * 16 + 32768);
        assert_eq!(c.frees(), 1 + 3 + 10);
        assert_eq!(c.freed_bytes(), 8192 + 3 * 48);
        assert_eq!(AllocCounters::default().objects(), 0);
    }

    /// A `memstats` image in our own memory, read through `process_vm_readv`
    /// like a target's: generations are summed, a rotation in progress is
    /// refused, garbage is rejected.
    #[test]
    fn generations_and_rotation_on_a_fake_memstats() {
        let Some(l) = layout_for(1, 25) else {
            panic!("no go1.25 table")
        };
        let a = &l.alloc_stats;
        let h = &a.heap_stats;
        let mut words = vec![0u64; (h.gen_in_memstats() / 8 + 2) as usize];
        let set = |w: &mut Vec<u64>, g: u64, off: u64, v: u64| {
            w[((h.delta_in_memstats(g) + off) / 8) as usize] = v;
        };
        let set_gen = |w: &mut Vec<u64>, gen: u32| {
            // `gen` is a u32 at an 8-aligned offset: the low half of its word.
            let i = (h.gen_in_memstats() / 8) as usize;
            w[i] = (w[i] & !0xffff_ffff) | u64::from(gen);
        };
        // gen = 1: stats[0] holds the last snapshot, stats[1] new writes,
        // stats[2] is clear.
        set_gen(&mut words, 1);
        set(&mut words, 0, h.tiny_alloc_count, 100);
        set(&mut words, 1, h.tiny_alloc_count, 5);
        set(&mut words, 0, h.small_alloc_count + 8 * 2, 40); // class 2: 16 B
        set(&mut words, 1, h.small_alloc_count + 8 * 5, 3); // class 5: 48 B
        set(&mut words, 0, h.large_alloc_count, 2);
        set(&mut words, 0, h.large_alloc, 5 * 8192);
        set(&mut words, 1, h.small_free_count + 8 * 2, 7);
        let me = ProcMem::new(std::process::id());
        let addr = words.as_ptr() as u64;

        let c = read(&me, a, addr).expect("read");
        assert_eq!(c.tiny, 105);
        assert_eq!(c.small_by_class[2], 40);
        assert_eq!(c.small_by_class[5], 3);
        assert_eq!(c.small_by_class.len(), 68);
        assert_eq!(c.small_frees_by_class[2], 7);
        assert_eq!(c.objects(), 105 + 40 + 3 + 2);
        assert_eq!(c.bytes(), 40 * 16 + 3 * 48 + 5 * 8192);
        assert_eq!(c.frees(), 7 + 105);
        validate(&me, a, addr).expect("valid");

        // Mid-rotation: writers moved to gen 2 while stats[0] (now gen+1)
        // is not yet merged and cleared.
        set_gen(&mut words, 2);
        let e = read(&me, a, addr).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted, "{e}");
        // Rotation done: stats[1] += stats[0], stats[0] cleared; same sums.
        for off in [
            h.tiny_alloc_count,
            h.small_alloc_count + 16,
            h.large_alloc_count,
            h.large_alloc,
        ] {
            let v0 = words[((h.delta_in_memstats(0) + off) / 8) as usize];
            let v1 = words[((h.delta_in_memstats(1) + off) / 8) as usize];
            set(&mut words, 1, off, v0 + v1);
            set(&mut words, 0, off, 0);
        }
        assert_eq!(read(&me, a, addr).expect("read after rotation"), c);

        // Garbage: a generation number out of range, class 0 counted, all zero.
        set_gen(&mut words, 7);
        assert_eq!(
            read(&me, a, addr).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert!(validate(&me, a, addr).is_err());
        set_gen(&mut words, 1);
        set(&mut words, 2, h.small_alloc_count, 1);
        assert!(validate(&me, a, addr).is_err());
        let zeros = vec![0u64; words.len()];
        assert!(validate(&me, a, zeros.as_ptr() as u64).is_err());
    }

    #[test]
    fn missing_process_is_an_error() {
        let Some(l) = layout_for(1, 24) else {
            panic!("no go1.24 table")
        };
        let gone = ProcMem::new(i32::MAX as u32);
        assert!(read(&gone, &l.alloc_stats, 0x1000).is_err());
    }
}
