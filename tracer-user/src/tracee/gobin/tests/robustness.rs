//! Deterministic fuzzing: truncated and bit-flipped binaries must never make
//! parsing or lookups panic.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::harness::{fixtures, Flavour};
use crate::tracee::gobin::{buildinfo, pclntab, GoBinary};

const FLIPS: usize = 500;
const FLIP_BUDGET: Duration = Duration::from_secs(4);

/// xorshift64*: tiny deterministic PRNG (no extra dependencies).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Uses every API on a (possibly corrupt) binary.
fn exercise(bin: &GoBinary, rng: &mut Rng) {
    let _ = bin.build_info().version();
    let n = bin.functions().take(100_000).count();
    let _ = bin.function("main.main");
    let _ = bin.function("runtime.mallocgc");
    let _ = bin.functions_with_prefix("main.");
    let _ = bin.has_cgo();
    let lo = bin.text_start.saturating_sub(64);
    let span = (bin.pcln().entry_off(bin.pcln().nfunc()).unwrap_or(0) as usize).saturating_add(128);
    for _ in 0..40 {
        let pc = lo.saturating_add(rng.below(span) as u64);
        let _ = bin.symbolize(pc);
        let _ = bin.func_at(pc);
        let _ = bin.text_bytes(pc, rng.below(64) as u64);
        let _ = bin.vaddr_to_file_offset(pc);
    }
    // Symbolize every instruction-ish address of a few functions, to walk
    // (possibly corrupt) tables to their ends.
    for f in bin.functions().skip(rng.below(n.max(1))).take(3) {
        let mut pc = f.entry;
        while pc < f.end.min(f.entry.saturating_add(4096)) {
            let _ = bin.symbolize(pc);
            pc += 1 + rng.below(8) as u64;
        }
    }
}

fn check_no_panic(what: &str, data: Vec<u8>, rng: &mut Rng) {
    let seed = rng.0;
    let r = catch_unwind(AssertUnwindSafe(|| {
        if let Ok(bin) = GoBinary::parse(data) {
            exercise(&bin, rng);
        }
    }));
    assert!(r.is_ok(), "panic on {what} (rng state {seed:#x})");
}

#[test]
fn corrupted_binaries_never_panic() {
    let fx = fixtures();
    let newest = fx.toolchains.len() - 1;
    let t0 = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // A stripped PIE exercises the scanning paths (moduledata, text start).
    for flavour in [Flavour::PieStripped, Flavour::Default] {
        let b = fx.get(newest, flavour).expect("build");
        let orig = GoBinary::parse(b.bytes.clone()).expect("parse");
        let len = b.bytes.len();
        let off = |va: Option<u64>| {
            va.and_then(|v| orig.vaddr_to_file_offset(v))
                .map(|o| o as usize)
        };
        let bi = buildinfo::find(&b.bytes).expect("build info");
        let p = orig.pcln_range.clone();
        let mut regions: Vec<Range<usize>> =
            vec![0..4096, p.start..p.start + 4096, p.clone(), bi..bi + 512];
        if let Some(md) = off(orig.moduledata) {
            regions.push(md..md + 600);
        }
        if let Some(g) = off(orig.gofunc) {
            regions.push(g..g + 65536);
        }
        for r in &mut regions {
            r.end = r.end.min(len);
        }

        // Truncations: random lengths plus the edges of every region.
        let mut cuts: Vec<usize> = (0..80).map(|_| rng.below(len)).collect();
        for r in &regions {
            cuts.extend([r.start, r.start + 1, r.start + 40, r.end.saturating_sub(1)]);
        }
        for cut in cuts {
            check_no_panic(
                &format!("{flavour:?} truncated to {cut}"),
                b.bytes[..cut.min(len)].to_vec(),
                &mut rng,
            );
        }

        // Byte flips inside the Go tables and headers. Bounded in count and
        // time (unoptimized test builds are slow).
        let start = Instant::now();
        for i in 0..FLIPS {
            if start.elapsed() > FLIP_BUDGET {
                eprintln!("fuzz: {flavour:?}: time budget reached after {i} flips");
                break;
            }
            let r = &regions[i % regions.len()];
            let mut data = b.bytes.clone();
            let flips = 1 + rng.below(8);
            for _ in 0..flips {
                let at = r.start + rng.below(r.len());
                data[at] ^= 1 + rng.below(255) as u8;
            }
            check_no_panic(&format!("{flavour:?} flip #{i} in {r:?}"), data, &mut rng);
        }
    }
    let took = t0.elapsed();
    eprintln!("fuzz: no panic on the corrupted binaries ({took:?})");
}

#[test]
fn random_tables_never_panic() {
    let mut rng = Rng(42);
    let fx = fixtures();
    let b = fx.get(0, Flavour::Default).expect("build");
    let orig = GoBinary::parse(b.bytes.clone()).expect("parse");
    let table = b.bytes[orig.pcln_range.clone()].to_vec();
    for i in 0..3000 {
        let mut t: Vec<u8> = table[..table.len().min(1 << 16)].to_vec();
        if i % 3 == 0 {
            t.truncate(rng.below(t.len()));
        }
        for _ in 0..1 + rng.below(16) {
            // Mostly the header and the start of the tables.
            let window = 256 + rng.below(1 << 16);
            let at = rng.below(t.len().min(window));
            if let Some(x) = t.get_mut(at) {
                *x = rng.next() as u8;
            }
        }
        let r = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(p) = pclntab::Pclntab::parse(&t) {
                for _ in 0..20 {
                    let fi = rng.below(p.nfunc() + 2);
                    if let Some(f) = p.func(fi) {
                        let _ = p.name(f.name_off);
                        let _ = p.runs(f.pcln, 1 << 16);
                        let _ = p.value_at(f.pcfile, rng.below(4096) as u64);
                        let _ = p.file(f.cu_off, rng.below(10) as i32 - 1);
                        let _ = f.pcdata(rng.below(6) as u32);
                        let _ = f.funcdata(rng.below(10) as u8);
                    }
                    let _ = p.find(rng.next() % 0x10_0000);
                }
            }
            let blob: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
            let mut framed = b"\xff Go buildinf:\x08\x02".to_vec();
            framed.resize(32, 0);
            framed.extend_from_slice(&blob);
            let _ = buildinfo::parse_blob(&framed);
            let _ = buildinfo::parse_blob(&blob);
        }));
        assert!(r.is_ok(), "panic on random table #{i}");
    }
}
