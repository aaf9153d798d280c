//! Classic Go maps: `runtime.hmap` and its bucket arrays (`runtime/map.go`,
//! Go ≤ 1.23).
//!
//! A bucket is `tophash [8]uint8`, 8 keys, 8 elems, then the overflow
//! `*bmap` in its last 8 bytes. Only the tophash bytes and the overflow
//! pointer are needed to count slots. Primary buckets are read in runs of
//! consecutive buckets (one iovec per run: copying a page costs less than
//! the kernel pinning it once per bucket); overflow buckets, scattered over
//! the heap, as two iovecs each (tophash, overflow pointer), thousands per
//! `process_vm_readv`. A visitor that needs the slots (the `sync.Map`
//! reader) gets whole buckets.

use super::{
    alloc, check_ptr, implausible, le_u16, le_u32, le_u64, read_exact, read_ranges, read_type,
    scale, MapDetail, MapReadError, MapShape, Result, ScanBudget, TypeInfo,
};
use crate::tracee::golayout::{HmapLayout, Layout};
use crate::tracee::procmem::ProcMem;

/// A visitor of whole buckets (tophash, keys, elems, overflow pointer).
pub(super) type BucketVisitor<'a> = &'a mut dyn FnMut(&[u8]);

/// Largest plausible B: 2^B buckets of at least 16 bytes must fit in the
/// 47-bit user address space.
const MAX_B: u8 = 43;

/// Buckets read per batch of `read_ranges` calls (bounds the buffer).
const CHUNK: usize = 8192;

/// Slot and bucket sizes of one map type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Geometry {
    /// Size of a key slot (8 when keys are stored indirectly).
    pub key_slot: u64,
    /// Size of an elem slot (8 when elems are stored indirectly).
    pub elem_slot: u64,
    /// `MapType.BucketSize`.
    pub bucket_size: u64,
    /// The bucket type holds pointers: allocation size classes differ, and
    /// the runtime only tracks overflow buckets of pointer-free buckets in
    /// `mapextra.overflow`.
    pub bucket_scan: bool,
    /// Keys stored out of line (key type > 128 bytes): the key type.
    pub indirect_key: Option<TypeInfo>,
    /// Elems stored out of line: the elem type.
    pub indirect_elem: Option<TypeInfo>,
}

impl Geometry {
    /// The bucket of a map with these slot sizes, as the compiler lays it
    /// out on amd64 (`cmd/compile/internal/reflectdata.MapBucketType`):
    /// tophash, 8 keys, 8 elems, an 8-byte overflow pointer; 8 × a slot
    /// size keeps everything 8-aligned, so there is no padding.
    pub fn for_slots(hl: &HmapLayout, key_slot: u64, elem_slot: u64, bucket_scan: bool) -> Self {
        let cnt = hl.bucket.bucket_cnt;
        Geometry {
            key_slot,
            elem_slot,
            bucket_size: hl.bucket.data_offset + cnt * (key_slot + elem_slot) + 8,
            bucket_scan,
            indirect_key: None,
            indirect_elem: None,
        }
    }

    /// Reads and checks the `*abi.MapType` at `t`.
    pub fn from_map_type(mem: &ProcMem, layout: &Layout, hl: &HmapLayout, t: u64) -> Result<Self> {
        check_ptr("*abi.MapType", t)?;
        let mt = &hl.map_type;
        let mut b = vec![0u8; mt.size as usize];
        read_exact(mem, "abi.MapType", t, &mut b)?;
        let key_slot = u64::from(b[mt.key_size as usize]);
        let elem_slot = u64::from(b[mt.value_size as usize]);
        let bucket_size = u64::from(le_u16(&b, mt.bucket_size));
        let flags = le_u32(&b, mt.flags);
        let bucket_type = read_type(mem, layout, le_u64(&b, mt.bucket))?;
        let mut g = Geometry::for_slots(hl, key_slot, elem_slot, bucket_type.has_pointers);
        if bucket_size != g.bucket_size || bucket_type.size != bucket_size {
            return Err(MapReadError::Implausible {
                what: "abi.MapType.BucketSize",
                value: bucket_size,
                why: "does not match the key and elem sizes or the bucket type",
            });
        }
        let indirect = |flag: u32, off: u64, slot: u64, max: u64| -> Result<Option<TypeInfo>> {
            if flags & flag == 0 {
                return Ok(None);
            }
            let ty = read_type(mem, layout, le_u64(&b, off))?;
            if slot != 8 || ty.size <= max {
                return Err(MapReadError::Implausible {
                    what: "indirect key/elem size",
                    value: ty.size,
                    why: "stored indirectly but not bigger than the inline maximum",
                });
            }
            Ok(Some(ty))
        };
        g.indirect_key = indirect(
            mt.flag_indirect_key,
            mt.key,
            key_slot,
            hl.bucket.max_key_bytes,
        )?;
        g.indirect_elem = indirect(
            mt.flag_indirect_elem,
            mt.elem,
            elem_slot,
            hl.bucket.max_elem_bytes,
        )?;
        Ok(g)
    }

    /// Buckets `makeBucketArray` asks for with 2^b primary ones: plus
    /// 2^(b−4) preallocated overflow buckets when b ≥ 4.
    fn requested_buckets(b: u8) -> u64 {
        (1u64 << b) + if b >= 4 { 1u64 << (b - 4) } else { 0 }
    }

    /// Heap bytes of a bucket array with 2^b primary buckets.
    fn array_alloc(&self, b: u8, layout: &Layout) -> u64 {
        alloc(
            self.bucket_size * Self::requested_buckets(b),
            self.bucket_scan,
            layout,
        )
    }

    /// Bytes of that array holding buckets: `roundupsize`, i.e. the size
    /// class minus the malloc header (Go ≥ 1.22, small objects with
    /// pointers over 512 bytes), which `makeBucketArray` fills with more
    /// preallocated overflow buckets.
    fn array_extent(&self, b: u8, layout: &Layout) -> u64 {
        let want = self.bucket_size * Self::requested_buckets(b);
        let mut got = self.array_alloc(b, layout);
        if layout.go_minor >= 22 && self.bucket_scan && want > 512 && want <= 32768 - 8 {
            got -= 8;
        }
        if b >= 4 {
            got - got % self.bucket_size
        } else {
            want
        }
    }
}

/// Fields of `runtime.hmap` (and `mapextra`) as read.
#[derive(Debug, Clone, Copy)]
struct Hmap {
    count: u64,
    flags: u8,
    b: u8,
    noverflow: u16,
    buckets: u64,
    oldbuckets: u64,
    nevacuate: u64,
    extra: u64,
}

impl Hmap {
    fn read(mem: &ProcMem, hl: &HmapLayout, addr: u64) -> Result<Hmap> {
        let mut b = vec![0u8; hl.size as usize];
        read_exact(mem, "runtime.hmap", addr, &mut b)?;
        let h = Hmap {
            count: le_u64(&b, hl.count),
            flags: b[hl.flags as usize],
            b: b[hl.b as usize],
            noverflow: le_u16(&b, hl.noverflow),
            buckets: le_u64(&b, hl.buckets),
            oldbuckets: le_u64(&b, hl.oldbuckets),
            nevacuate: le_u64(&b, hl.nevacuate),
            extra: le_u64(&b, hl.extra),
        };
        if h.b > MAX_B {
            return implausible("hmap.B", u64::from(h.b), "more buckets than memory");
        }
        let known =
            hl.flag_iterator | hl.flag_old_iterator | hl.flag_hash_writing | hl.flag_same_size_grow;
        if h.flags & !known != 0 {
            return implausible("hmap.flags", u64::from(h.flags), "unknown flag bits");
        }
        // The runtime grows before count exceeds 6.5 per bucket.
        if h.count > hl.bucket.bucket_cnt << h.b {
            return implausible("hmap.count", h.count, "more entries than 8 per bucket");
        }
        if h.buckets == 0 {
            if h.count != 0 || h.oldbuckets != 0 {
                return implausible("hmap.buckets", 0, "nil, yet entries or old buckets");
            }
        } else {
            check_ptr("hmap.buckets", h.buckets)?;
        }
        if h.oldbuckets != 0 {
            check_ptr("hmap.oldbuckets", h.oldbuckets)?;
            let same = h.flags & hl.flag_same_size_grow != 0;
            if !same && h.b == 0 {
                return implausible("hmap.B", 0, "growing from half a bucket");
            }
            if h.nevacuate > 1u64 << h.b {
                return implausible("hmap.nevacuate", h.nevacuate, "beyond the old buckets");
            }
        }
        if h.extra != 0 {
            check_ptr("hmap.extra", h.extra)?;
        }
        Ok(h)
    }

    fn old_b(&self, hl: &HmapLayout) -> u8 {
        if self.flags & hl.flag_same_size_grow != 0 {
            self.b
        } else {
            self.b - 1
        }
    }

    /// `noverflow` in buckets: the runtime counts every overflow bucket
    /// below B = 16, and 1 in 2^(B−15) of them above (`incrnoverflow`).
    fn noverflow_estimate(&self) -> u64 {
        let n = u64::from(self.noverflow);
        if self.b < 16 {
            n
        } else {
            n << (self.b - 15)
        }
    }
}

/// Overflow-bucket bookkeeping of `runtime.mapextra`.
#[derive(Debug, Default, Clone, Copy)]
struct Extra {
    /// `len` and `cap` of `*overflow` / `*oldoverflow` (pointer-free
    /// buckets only), None when nil.
    overflow: Option<(u64, u64)>,
    oldoverflow: Option<(u64, u64)>,
    next_overflow: u64,
}

impl Extra {
    fn read(mem: &ProcMem, hl: &HmapLayout, addr: u64) -> Result<Extra> {
        if addr == 0 {
            return Ok(Extra::default());
        }
        let mut b = [0u8; 24];
        read_exact(mem, "runtime.mapextra", addr, &mut b)?;
        let slice = |p: u64| -> Result<Option<(u64, u64)>> {
            if p == 0 {
                return Ok(None);
            }
            check_ptr("mapextra overflow slice", p)?;
            let mut s = [0u8; 24];
            read_exact(mem, "mapextra overflow slice", p, &mut s)?;
            let (len, cap) = (le_u64(&s, 8), le_u64(&s, 16));
            if len > cap || cap > 1 << 40 {
                return Err(MapReadError::Implausible {
                    what: "mapextra overflow slice len",
                    value: len,
                    why: "len > cap or absurd cap",
                });
            }
            Ok(Some((len, cap)))
        };
        Ok(Extra {
            overflow: slice(le_u64(&b, hl.extra_overflow))?,
            oldoverflow: slice(le_u64(&b, hl.extra_oldoverflow))?,
            next_overflow: le_u64(&b, hl.extra_next_overflow),
        })
    }

    /// Heap bytes: the `mapextra` and its two slices (header + array).
    fn bytes(&self, present: bool, layout: &Layout) -> u64 {
        if !present {
            return 0;
        }
        let slice = |s: Option<(u64, u64)>| {
            s.map_or(0, |(_, cap)| {
                alloc(24, true, layout) + alloc(cap * 8, true, layout)
            })
        };
        alloc(24, true, layout) + slice(self.overflow) + slice(self.oldoverflow)
    }
}

/// What every bucket scan of one map needs.
#[derive(Clone, Copy)]
struct Cx<'a> {
    mem: &'a ProcMem,
    hl: &'a HmapLayout,
    geom: &'a Geometry,
    layout: &'a Layout,
}

/// Counts over the scanned part of one bucket array.
#[derive(Debug, Default, Clone, Copy)]
struct ArrayScan {
    /// Primary buckets in the array, and how many of them were scanned.
    primary: u64,
    sampled: u64,
    /// Overflow buckets reached from the scanned ones; of those, the ones
    /// allocated outside the array.
    overflow: u64,
    external: u64,
    /// Slots by tophash: `emptyOne`, and in use (≥ `minTopHash`).
    empty_one: u64,
    occupied: u64,
}

impl ArrayScan {
    fn full(&self) -> bool {
        self.sampled == self.primary
    }
}

/// Consecutive buckets per sampled run: neighbours hold unrelated hashes,
/// and reading a run costs about what one bucket per page does.
const SAMPLE_RUN: u64 = 64;

/// Primary buckets to scan as runs `(first index, length)` of `0..n`: all
/// of them, or `max_sample` of them in evenly spaced runs.
fn primary_runs(n: u64, max_sample: u64) -> Vec<(u64, u64)> {
    if max_sample >= n {
        return vec![(0, n)];
    }
    let run = SAMPLE_RUN.min(max_sample.max(1));
    let k = (max_sample / run).max(1);
    // k * run <= max_sample < n, so runs k apart never overlap.
    (0..k)
        .map(|i| {
            (
                ((u128::from(i) * u128::from(n)) / u128::from(k)) as u64,
                run,
            )
        })
        .collect()
}

/// Scans up to `max_sample` primary buckets of the array at `array` (2^`b`
/// buckets), in evenly spaced runs, and their whole overflow chains.
fn scan_array(
    cx: &Cx<'_>,
    array: u64,
    b: u8,
    max_sample: u64,
    whole: bool,
    visit: &mut dyn FnMut(&[u8]),
) -> Result<ArrayScan> {
    let Cx {
        mem,
        hl,
        geom,
        layout,
    } = *cx;
    let bs = geom.bucket_size;
    let primary = 1u64 << b;
    let extent = geom.array_extent(b, layout);
    // The last bucket of the array must be readable: a garbage B would
    // otherwise send us scanning (and sampling) far beyond the heap.
    read_ranges(mem, "last map bucket", &[(array + (primary - 1) * bs, 1)])?;
    let runs = primary_runs(primary, max_sample);
    let mut scan = ArrayScan {
        primary,
        sampled: runs.iter().map(|r| r.1).sum(),
        ..ArrayScan::default()
    };
    // A legitimate map has at most about one overflow bucket per bucket
    // (more triggers a same-size grow on the next insert).
    let max_overflow = 4 * scan.sampled + 1024;
    let cnt = hl.bucket.bucket_cnt as usize;
    // Counts one bucket (tophash first, overflow pointer last) and returns
    // its overflow bucket.
    let mut count = |scan: &mut ArrayScan, bucket: &[u8]| -> Result<Option<u64>> {
        for &top in &bucket[..cnt] {
            if top == hl.bucket.empty_one {
                scan.empty_one += 1;
            } else if top >= hl.bucket.min_top_hash {
                scan.occupied += 1;
            }
        }
        if whole {
            visit(bucket);
        }
        let ovf = le_u64(bucket, bucket.len() as u64 - 8);
        if ovf == 0 {
            return Ok(None);
        }
        // The last preallocated bucket points at the array start while
        // unused; it is never linked into a chain.
        if ovf == array {
            return implausible(
                "bmap.overflow",
                ovf,
                "the preallocation sentinel inside a chain",
            );
        }
        check_ptr("bmap.overflow", ovf)?;
        scan.overflow += 1;
        if !(array..array + extent).contains(&ovf) {
            scan.external += 1;
        }
        if scan.overflow > max_overflow {
            return Err(MapReadError::TooLong {
                what: "overflow buckets",
                limit: max_overflow,
            });
        }
        Ok(Some(ovf))
    };

    let mut runs = runs.into_iter();
    let mut pending: Option<(u64, u64)> = None;
    let mut ranges: Vec<(u64, usize)> = Vec::new();
    let mut frontier: Vec<u64> = Vec::new();
    loop {
        // Up to CHUNK primary buckets, read as whole runs (a page copy is
        // cheaper than the kernel pinning the page again for each bucket's
        // iovecs) ...
        ranges.clear();
        let mut n = 0u64;
        while n < CHUNK as u64 {
            let Some((first, len)) = pending.take().or_else(|| runs.next()) else {
                break;
            };
            let take = len.min(CHUNK as u64 - n);
            ranges.push((array + first * bs, (take * bs) as usize));
            n += take;
            if take < len {
                pending = Some((first + take, len - take));
            }
        }
        if n == 0 {
            break;
        }
        let buf = read_ranges(mem, "map buckets", &ranges)?;
        frontier.clear();
        for bucket in buf.chunks_exact(bs as usize) {
            frontier.extend(count(&mut scan, bucket)?);
        }
        // ... then their overflow chains, level by level (each bucket has
        // at most one overflow: the frontier never grows), as tophash +
        // overflow pointer iovecs unless the visitor wants whole buckets.
        while !frontier.is_empty() {
            ranges.clear();
            for &addr in &frontier {
                if whole {
                    ranges.push((addr, bs as usize));
                } else {
                    ranges.push((addr, cnt));
                    ranges.push((addr + bs - 8, 8));
                }
            }
            let per = if whole { bs as usize } else { cnt + 8 };
            let buf = read_ranges(mem, "map overflow buckets", &ranges)?;
            frontier.clear();
            for bucket in buf.chunks_exact(per) {
                frontier.extend(count(&mut scan, bucket)?);
            }
        }
    }
    Ok(scan)
}

/// Reads the classic map at `addr`; `geom` None when the map type is
/// unknown. `visit` sees every scanned bucket whole (new and old arrays).
pub(super) fn read(
    mem: &ProcMem,
    layout: &Layout,
    hl: &HmapLayout,
    addr: u64,
    geom: Option<&Geometry>,
    budget: &ScanBudget,
    visit: Option<BucketVisitor<'_>>,
) -> Result<MapShape> {
    let h = Hmap::read(mem, hl, addr)?;
    let writing = h.flags & hl.flag_hash_writing != 0;
    let growing = h.oldbuckets != 0;
    let nb = if h.buckets == 0 { 0 } else { 1u64 << h.b };
    let old_nb = if growing { 1u64 << h.old_b(hl) } else { 0 };
    let detail = |overflow_buckets, external_overflow| MapDetail::Classic {
        b: h.b,
        noverflow: h.noverflow,
        overflow_buckets,
        external_overflow,
        old_buckets: old_nb,
    };
    let Some(geom) = geom else {
        let ovf = if nb == 0 { 0 } else { h.noverflow_estimate() };
        return Ok(MapShape {
            live: h.count,
            capacity_slots: hl.bucket.bucket_cnt * (nb + ovf),
            tombstones: 0,
            bytes: 0,
            scanned_fraction: 0.0,
            growing,
            type_known: false,
            torn: writing,
            detail: detail(ovf, 0),
        });
    };
    let extra = Extra::read(mem, hl, h.extra)?;

    // The budget, shared between the arrays in proportion to their size.
    let total = nb + old_nb;
    let (max_new, max_old) = if total <= budget.max_buckets {
        (nb, old_nb)
    } else {
        let new = ((u128::from(budget.max_buckets) * u128::from(nb)) / u128::from(total)) as u64;
        (new.max(1), budget.max_buckets.saturating_sub(new).max(1))
    };
    let cx = Cx {
        mem,
        hl,
        geom,
        layout,
    };
    let whole = visit.is_some();
    let mut noop = |_: &[u8]| {};
    let visit: &mut dyn FnMut(&[u8]) = match visit {
        Some(v) => v,
        None => &mut noop,
    };
    let new = if nb == 0 {
        ArrayScan::default()
    } else {
        let (a, b) = (h.buckets, h.b);
        scan_array(&cx, a, b, max_new, whole, visit)?
    };
    let old = if growing {
        let (a, b) = (h.oldbuckets, h.old_b(hl));
        scan_array(&cx, a, b, max_old, whole, visit)?
    } else {
        ArrayScan::default()
    };
    let full = new.full() && old.full();

    // Overflow buckets of the current array: walked, or for pointer-free
    // buckets the runtime's own list of them, or the sample scaled.
    let listed = if geom.bucket_scan {
        None
    } else {
        extra.overflow.map(|(len, _)| len)
    };
    let overflow = if new.full() {
        new.overflow
    } else {
        listed.unwrap_or_else(|| scale(new.overflow, new.sampled, new.primary))
    };
    let external = if new.full() {
        new.external
    } else {
        overflow.saturating_sub(preallocated_used(geom, layout, &h, &extra))
    };
    let old_external = scale(old.external, old.sampled, old.primary);

    let mut torn = writing;
    if full && new.occupied + old.occupied != h.count {
        torn = true;
    }
    if new.full() && listed.is_some_and(|n| n != new.overflow) {
        torn = true;
    }

    let bucket_alloc = alloc(geom.bucket_size, geom.bucket_scan, layout);
    let mut bytes = alloc(hl.size, true, layout) + extra.bytes(h.extra != 0, layout);
    if nb != 0 {
        bytes += geom.array_alloc(h.b, layout) + external.saturating_mul(bucket_alloc);
    }
    if growing {
        bytes += geom.array_alloc(h.old_b(hl), layout) + old_external.saturating_mul(bucket_alloc);
    }
    for ty in [geom.indirect_key, geom.indirect_elem]
        .into_iter()
        .flatten()
    {
        bytes = bytes.saturating_add(h.count.saturating_mul(alloc(
            ty.size,
            ty.has_pointers,
            layout,
        )));
    }

    let scanned = new.sampled + old.sampled;
    Ok(MapShape {
        live: h.count,
        capacity_slots: hl.bucket.bucket_cnt * (nb + overflow),
        tombstones: scale(new.empty_one, new.sampled, new.primary)
            + scale(old.empty_one, old.sampled, old.primary),
        bytes,
        scanned_fraction: if total == 0 {
            1.0
        } else {
            scanned as f64 / total as f64
        },
        growing,
        type_known: true,
        torn,
        detail: detail(overflow, external),
    })
}

/// Preallocated overflow buckets of the current array already handed out:
/// `mapextra.nextOverflow` points at the next free one (nil once all are
/// used). Overflow buckets beyond these were allocated one by one.
fn preallocated_used(geom: &Geometry, layout: &Layout, h: &Hmap, extra: &Extra) -> u64 {
    if h.b < 4 {
        return 0;
    }
    let bs = geom.bucket_size;
    let first = h.buckets + (1u64 << h.b) * bs;
    let end = h.buckets + geom.array_extent(h.b, layout);
    let total = (end - first) / bs;
    let next = extra.next_overflow;
    if next == 0 {
        total
    } else if (first..end).contains(&next) && (next - first).is_multiple_of(bs) {
        (next - first) / bs
    } else {
        // nextOverflow of some other array (mid-update): assume none used.
        0
    }
}
