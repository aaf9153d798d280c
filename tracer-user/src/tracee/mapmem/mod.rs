//! The shape of a Go map or `sync.Map` in a live process, read from outside.
//!
//! Given a map header address (`RBX` at `runtime.mapassign` & co.) and,
//! when known, its `*abi.MapType` (`RAX` there), [`read_map`] reads the
//! target's memory through [`ProcMem`] (`process_vm_readv`, never writes)
//! and reports how many entries it holds, how many slots it has, how many
//! of those are tombstones, and how much heap it keeps alive;
//! [`read_sync_map`] does the same for a `sync.Map`, including the deleted
//! keys a Go ≤ 1.23 `sync.Map` keeps referencing. Every offset comes from
//! [`crate::tracee::golayout`].
//!
//! The target keeps running while we read: a map may grow, or be freed and
//! its memory reused, between two reads. Everything read is validated
//! (bucket counts, pointers, chain lengths, per-table counters) and garbage
//! is reported as a [`MapReadError`], never a panic or an endless walk;
//! numbers that disagree with each other without being impossible set
//! `torn` in the result instead.
//!
//! Big structures are sampled: at most [`ScanBudget::max_buckets`] buckets
//! (classic maps), directory entries (Swiss maps) and
//! [`ScanBudget::max_nodes`] trie nodes are read, evenly spaced, and the
//! counts scaled up; `scanned_fraction` says how much was read.
//!
//! - `classic.rs`: `runtime.hmap` (Go ≤ 1.23), also used for the two maps
//!   of the read/dirty `sync.Map`;
//! - `swiss.rs`: `internal/runtime/maps.Map` (Go ≥ 1.24);
//! - `syncmap.rs`: both `sync.Map` implementations;
//! - `tests/`: testdata/go/mapshapes built with every Go toolchain.

// The reader is wired into the tracer separately; until then its public
// API is unused outside the tests.
#![allow(dead_code)]

mod classic;
mod swiss;
mod syncmap;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::tracee::golayout::{Layout, MapImpl, SyncMapImpl};
use crate::tracee::procmem::ProcMem;

/// How much of a big structure one read may scan. Measured (release
/// build, 1.1 KB buckets): 65,536 classic buckets ≈ 20–30 ms, a full scan
/// of 262,144 ≈ 80–90 ms; a Swiss map of 1M slots (2,048 tables) ≈ 0.6 ms,
/// since only table headers are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanBudget {
    /// Classic maps: primary buckets scanned per bucket array (their
    /// overflow chains are followed in full); Swiss maps: directory entries
    /// read. Beyond this the structure is sampled: evenly spaced runs of 64
    /// consecutive buckets, or evenly spaced directory entries.
    pub max_buckets: u64,
    /// Hash-trie `sync.Map`: indirect nodes expanded; a trie level with more
    /// nodes than are left is sampled evenly and its subtree counts scaled
    /// (each level below a spent budget still gets a quarter of it: a
    /// deep trie may read up to ~4× this).
    pub max_nodes: u64,
}

impl ScanBudget {
    /// Read everything, however big.
    pub const UNLIMITED: ScanBudget = ScanBudget {
        max_buckets: u64::MAX,
        max_nodes: u64::MAX,
    };
}

impl Default for ScanBudget {
    /// 65,536 buckets / directory entries / trie nodes: at most a few tens
    /// of milliseconds per map.
    fn default() -> ScanBudget {
        ScanBudget {
            max_buckets: 65_536,
            max_nodes: 65_536,
        }
    }
}

/// What a Go map holds and costs.
///
/// **Classic map (`runtime.hmap`, Go ≤ 1.23)**
/// - `live` = `hmap.count`.
/// - `capacity_slots` = 8 × (2^B + overflow buckets). Overflow buckets are
///   counted by walking every chain; when the map is sampled, from the
///   sampled chains scaled up, or exactly from `len(*hmap.extra.overflow)`
///   for maps whose buckets hold no pointers (the runtime keeps every
///   overflow bucket of those in that slice). Not counted: the old bucket
///   array while growing.
/// - `tombstones` = slots whose tophash is `emptyOne` (deleted and not
///   reused), in the buckets and, while growing, in the old buckets not yet
///   evacuated. `emptyRest` slots ("this and every later slot of the chain
///   are empty": never used, or cleaned up because everything after them
///   was deleted too) are not tombstones. (So a map emptied by deleting
///   every key shows none: each chain's last delete turns the whole chain
///   into `emptyRest`; its waste shows as capacity against `live`.)
///   Sampled maps: the count in the sample × (buckets / sampled buckets),
///   the sample being evenly spaced runs of 64 consecutive buckets with
///   their chains.
/// - `bytes` = the heap the map keeps alive, in allocated (size class)
///   bytes: the `hmap`; the bucket array as the runtime allocates it (2^B
///   buckets plus the 2^(B−4) overflow buckets it preallocates when B ≥ 4,
///   rounded up to its size class); overflow buckets allocated outside it;
///   the old bucket array and its overflow buckets while growing; the
///   `mapextra` and its overflow slices; plus `live` × (elem size) when
///   elems are stored indirectly (elem > 128 bytes), same for keys.
///   (A map the compiler kept on the stack has its header, and maybe its
///   first bucket, there: counted anyway.)
///
/// **Swiss map (`internal/runtime/maps.Map`, Go ≥ 1.24)**
/// - `live` = `Map.used`.
/// - `dirLen == 0` (small map): `capacity_slots` = 8 (0 if `dirPtr` is
///   nil), `tombstones` = 0 (a small map never has any), `bytes` = `Map` +
///   one group.
/// - Otherwise, over the distinct tables of the directory:
///   `capacity_slots` = Σ `table.capacity`; `tombstones` =
///   Σ (`capacity` × 7/8 − `used` − `growthLeft`) (the runtime's own
///   `(*table).tombstones`, equal to the number of `ctrlDeleted` control
///   bytes); `bytes` = `Map` + directory (`dirLen` × 8) + Σ (table struct +
///   (`lengthMask` + 1) groups × `GroupSize`), each allocation rounded to its
///   size class, plus indirect keys/elems as above. Sampled (directory
///   longer than the budget): evenly spaced directory entries, each table
///   weighted by 1 / (number of directory entries pointing to it), scaled up.
///
/// Without the map type (`map_type` = None) the slot and bucket sizes are
/// unknown: `live` and `capacity_slots` are still right (classic: overflow
/// from `noverflow`, which the runtime counts exactly below B = 16 and
/// probabilistically, 1 in 2^(B−15), above), Swiss `tombstones` too;
/// classic `tombstones` and all `bytes` are 0 and `type_known` is false.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapShape {
    pub live: u64,
    pub capacity_slots: u64,
    pub tombstones: u64,
    pub bytes: u64,
    /// Fraction of buckets (classic) or directory entries (Swiss) actually
    /// read when a big map was sampled (1.0 = full scan; 0.0 for a classic
    /// map read without its type, where no bucket is read).
    pub scanned_fraction: f64,
    /// Classic map in the middle of growing (`oldbuckets` != nil); Swiss
    /// tables rehash at once and are never growing.
    pub growing: bool,
    /// The map type was given and valid: `bytes` (and classic `tombstones`)
    /// are computed; otherwise they are 0.
    pub type_known: bool,
    /// The map changed while we read it: a write was in progress (the
    /// header's writing flag) or, in a full scan, the slots found in use do
    /// not add up to `live`. The numbers are then approximate.
    pub torn: bool,
    pub detail: MapDetail,
}

/// Implementation-specific numbers behind a [`MapShape`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MapDetail {
    Classic {
        /// log2 of the number of buckets.
        b: u8,
        /// `hmap.noverflow` as read (see [`MapShape`] on its precision).
        noverflow: u16,
        /// Overflow buckets of the current bucket array (estimated if sampled).
        overflow_buckets: u64,
        /// Of those, allocated outside the bucket array (the others are
        /// the preallocated ones at its end).
        external_overflow: u64,
        /// Buckets of the old array while growing, else 0.
        old_buckets: u64,
    },
    Swiss {
        /// Directory length; 0 for a small map (one group, no table).
        dir_len: u64,
        /// Distinct tables (estimated if sampled).
        tables: u64,
        /// Groups of 8 slots over all tables (1 for a small map).
        groups: u64,
    },
}

/// What a `sync.Map` holds and costs.
///
/// **Go ≤ 1.23 (read map + dirty map)**: `read.m` and `dirty` are both
/// classic `map[any]*entry`; their full slots are walked and the distinct
/// `*entry` pointers collected.
/// - `held` = distinct entries: keys the map still references. A deleted
///   key stays in the read map, its `entry.p` nil, until the next dirty
///   map is built (then `p` = the `expunged` sentinel) and promoted.
/// - `live` = entries whose `p` is neither nil nor the `expunged` sentinel.
///   The sentinel is the value of the `sync.expunged` variable when its
///   address is given; otherwise inferred: it is the one `p` value shared
///   by several entries (every live `Store` boxes a fresh value).
/// - `bytes` = both maps (as a classic [`MapShape`]) + the `readOnly` + one
///   8-byte `entry` per held key + the 16-byte box `p` points to per live
///   key.
/// - Sampled (a map over the bucket budget): the read map's sampled
///   entries are classified and scaled to `len(read.m)`; the dirty map
///   holds every non-expunged entry of the read map plus the new keys, so
///   `held` = `len(read.m)` + (`len(dirty)` − (`len(read.m)` − expunged)),
///   and those new keys count as live.
///
/// The residue lasts until the dirty map is promoted: after `len(dirty)`
/// misses (`Load`s of keys not in the read map), or at once by `Range`
/// (which promotes whenever `read.amended` is set).
///
/// **Go ≥ 1.24 (`internal/sync.HashTrieMap`)**: walked from the root: 16
/// children per indirect node, entries and their overflow (hash collision)
/// chains. Deletes unlink entries, so `live` = `held` = entries;
/// `bytes` = indirect nodes × their size + entries × theirs (in size
/// classes).
///
/// Neither counts the data the keys and values point to (what is boxed in
/// the `any`), nor the `sync.Map` struct itself, usually part of another
/// object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncMapShape {
    pub live: u64,
    pub held: u64,
    pub bytes: u64,
    /// Fraction of the buckets / trie nodes read (1.0 = everything).
    pub scanned_fraction: f64,
    /// The structure changed while we read it (see [`MapShape::torn`]).
    pub torn: bool,
    pub detail: SyncMapDetail,
}

/// Implementation-specific numbers behind a [`SyncMapShape`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SyncMapDetail {
    ReadDirty {
        /// `len(read.m)`, `len(dirty)` (hmap counts), `misses`, `read.amended`.
        read_len: u64,
        dirty_len: u64,
        misses: u64,
        amended: bool,
        /// Held entries with `p` == nil (deleted, not yet expunged).
        deleted: u64,
        /// Held entries with `p` == the sentinel (deleted and expunged).
        expunged: u64,
        /// The sentinel used: read from `sync.expunged`, or inferred
        /// (None if no entry is expunged and the variable was not given).
        sentinel: Option<u64>,
    },
    HashTrie {
        indirect_nodes: u64,
        entries: u64,
        /// Entries reached through an `overflow` link (full hash collisions).
        overflow_entries: u64,
        /// Deepest indirect level (root = 0).
        max_depth: u32,
    },
}

/// Why a map could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MapReadError {
    #[error("reading {what} at {addr:#x}: {source}")]
    Read {
        what: &'static str,
        addr: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("implausible {what} {value:#x}: {why} (freed or not a map?)")]
    Implausible {
        what: &'static str,
        value: u64,
        why: &'static str,
    },
    #[error("more than {limit} {what}: a cycle (the structure changed or was freed while read)")]
    TooLong { what: &'static str, limit: u64 },
    #[error("the Go version's layout table has no {0} layout")]
    NoLayout(&'static str),
}

type Result<T> = std::result::Result<T, MapReadError>;

/// Offset of `Size_` (uintptr) in `internal/abi.Type`, the first field in
/// every supported version (1.21–1.27). Kept here rather than in
/// `golayout` for now; the tests check it through the key and elem sizes
/// of the fixture's indirect maps.
const ABI_TYPE_SIZE: u64 = 0;

/// Reads the map at `map` (`*runtime.hmap` on Go ≤ 1.23,
/// `*internal/runtime/maps.Map` on ≥ 1.24, as in `RBX` at `runtime.map*`
/// entry), of type `map_type` (`*abi.MapType`, `RAX` there) if known. See
/// [`MapShape`] for what each number means.
pub fn read_map(
    mem: &ProcMem,
    layout: &Layout,
    map_impl: MapImpl,
    map: u64,
    map_type: Option<u64>,
    budget: &ScanBudget,
) -> Result<MapShape> {
    check_ptr("map header", map)?;
    match map_impl {
        MapImpl::Classic => {
            let hl = layout.hmap.as_ref().ok_or(MapReadError::NoLayout("hmap"))?;
            let geom = match map_type {
                Some(t) => Some(classic::Geometry::from_map_type(mem, layout, hl, t)?),
                None => None,
            };
            classic::read(mem, layout, hl, map, geom.as_ref(), budget, None)
        }
        MapImpl::Swiss => {
            let sl = layout
                .swiss
                .as_ref()
                .ok_or(MapReadError::NoLayout("swiss"))?;
            swiss::read(mem, layout, sl, map, map_type, budget)
        }
    }
}

/// Reads the `sync.Map` at `addr`. `expunged` is the address of the
/// `sync.expunged` variable (from `.symtab`, load bias applied) when known;
/// only Go ≤ 1.23 uses it. See [`SyncMapShape`].
pub fn read_sync_map(
    mem: &ProcMem,
    layout: &Layout,
    impl_: SyncMapImpl,
    addr: u64,
    expunged: Option<u64>,
    budget: &ScanBudget,
) -> Result<SyncMapShape> {
    check_ptr("sync.Map", addr)?;
    match impl_ {
        SyncMapImpl::ReadDirty => syncmap::read_dirty(mem, layout, addr, expunged, budget),
        SyncMapImpl::HashTrie => syncmap::hash_trie(mem, layout, addr, budget),
    }
}

/// A key or elem type as far as its storage is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TypeInfo {
    size: u64,
    has_pointers: bool,
}

/// Largest key / elem / bucket / group a map type may describe: Go stores
/// keys and elems over 128 bytes indirectly, so even a bucket stays small.
const MAX_SANE_TYPE_SIZE: u64 = 1 << 40;

fn read_type(mem: &ProcMem, layout: &Layout, addr: u64) -> Result<TypeInfo> {
    check_ptr("*abi.Type", addr)?;
    let size = read_u64(mem, "abi.Type.Size_", addr + ABI_TYPE_SIZE)?;
    let ptrbytes = read_u64(mem, "abi.Type.PtrBytes", addr + layout.type_ptrbytes)?;
    if size > MAX_SANE_TYPE_SIZE || ptrbytes > size {
        return Err(MapReadError::Implausible {
            what: "abi.Type.Size_",
            value: size,
            why: "too big, or smaller than its pointer bytes",
        });
    }
    Ok(TypeInfo {
        size,
        has_pointers: ptrbytes != 0,
    })
}

/// Heap bytes of one allocation of `size` bytes (its size class).
fn alloc(size: u64, scan: bool, layout: &Layout) -> u64 {
    crate::tracee::sizeclass::slot_size(size, scan, layout.go_minor)
}

fn implausible<T>(what: &'static str, value: u64, why: &'static str) -> Result<T> {
    Err(MapReadError::Implausible { what, value, why })
}

/// A pointer that must be non-nil, 8-aligned and in the user half of the
/// address space.
fn check_ptr(what: &'static str, p: u64) -> Result<()> {
    if p == 0 || !p.is_multiple_of(8) || p >= 1 << 47 {
        return Err(MapReadError::Implausible {
            what,
            value: p,
            why: "not a valid heap pointer",
        });
    }
    Ok(())
}

fn read_exact(mem: &ProcMem, what: &'static str, addr: u64, buf: &mut [u8]) -> Result<()> {
    mem.read(addr, buf)
        .map_err(|source| MapReadError::Read { what, addr, source })
}

fn read_u64(mem: &ProcMem, what: &'static str, addr: u64) -> Result<u64> {
    let mut b = [0u8; 8];
    read_exact(mem, what, addr, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// [`ProcMem::read_ranges`] into a new buffer.
fn read_ranges(mem: &ProcMem, what: &'static str, ranges: &[(u64, usize)]) -> Result<Vec<u8>> {
    let mut out = vec![0u8; ranges.iter().map(|r| r.1).sum()];
    mem.read_ranges(ranges, &mut out)
        .map_err(|source| MapReadError::Read {
            what,
            addr: ranges.first().map_or(0, |r| r.0),
            source,
        })?;
    Ok(out)
}

/// Little-endian field readers over a byte buffer read from the target.
fn le_u64(b: &[u8], off: u64) -> u64 {
    let o = off as usize;
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(w)
}

fn le_u32(b: &[u8], off: u64) -> u32 {
    let o = off as usize;
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[o..o + 4]);
    u32::from_le_bytes(w)
}

fn le_u16(b: &[u8], off: u64) -> u16 {
    let o = off as usize;
    u16::from_le_bytes([b[o], b[o + 1]])
}

/// How many of `n` items [`sample_indices`] yields for a budget of `m`:
/// all of them if `m >= n`, else `m` (at least 1).
fn sample_count(n: u64, m: u64) -> u64 {
    m.max(1).min(n)
}

/// [`sample_count`] indexes spread evenly over `0..n`.
fn sample_indices(n: u64, m: u64) -> impl Iterator<Item = u64> {
    let m = sample_count(n, m);
    (0..m).map(move |k| ((u128::from(k) * u128::from(n)) / u128::from(m)) as u64)
}

/// `x` counted over `part` of `whole` items, scaled to the whole.
fn scale(x: u64, part: u64, whole: u64) -> u64 {
    if part == 0 || part >= whole {
        return x;
    }
    ((x as f64) * (whole as f64) / (part as f64)).round() as u64
}
