//! Per-map statistics from the map-operation events: operation counts,
//! latency histograms, sync.Map zero-value stores and Range sizes. The
//! memory-derived figures (live, capacity, tombstones, bytes) are read from
//! the target at report time (`crate::tracee::mapmem`).
use std::{
    collections::{BTreeMap, HashMap},
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use tracer_common::{map_op, MapEvent};

use super::durations::Durations;

/// Maps tracked at once (~1 KB each plus their durations); operations on
/// further maps are counted in `untracked_ops`.
pub const MAX_MAPS: usize = 64 * 1024;
/// Maps that get latencies (the first ones seen): a few hundred bytes each
/// while they have few operations, ~30 KB per kind of operation after.
const MAX_TIMED_MAPS: usize = 4096;

/// Operation names, as in the report's `ops` and `latency_ns`.
pub mod op_name {
    pub const LOAD: &str = "load";
    pub const LOAD_MISS: &str = "load_miss";
    pub const STORE: &str = "store";
    pub const DELETE: &str = "delete";
    pub const ITERATE: &str = "iterate";
    pub const CLEAR: &str = "clear";
    pub const GROW: &str = "grow";
    pub const SWAP: &str = "swap";
    pub const LOAD_OR_STORE: &str = "load_or_store";
    pub const LOAD_AND_DELETE: &str = "load_and_delete";
    pub const RANGE: &str = "range";
}

/// What the probes saw of one map or sync.Map.
#[derive(Debug, Clone, Default)]
pub struct MapStats {
    pub sync: bool,
    /// `*abi.MapType` (maps only), from the last operation that passed it.
    pub map_type: u64,
    /// Seen at makemap (else: first seen at an operation, created earlier).
    pub created: bool,
    /// Creation or first-seen stack (0: unknown).
    pub stack_id: u64,
    /// Cumulative counts per operation name.
    pub ops: BTreeMap<&'static str, u64>,
    /// sync.Map stores of a nil, zero or empty value.
    pub zero_stores: u64,
    /// Read/dirty sync.Map: entries of the read map each Range walked.
    pub range_visited_sum: u64,
    pub range_visited_max: u64,
    pub range_visited_calls: u64,
    /// sync.Map Swap / LoadAndDelete calls by return address: the session
    /// tells Store from Swap and Delete from LoadAndDelete by the inline
    /// tree at the call site (`resolve_callers`).
    pub callers: BTreeMap<(u32, u64), u64>,
    /// Operations by (`map_op`, return address of the probed call): how
    /// the on-CPU samples of each call site are shared among maps.
    pub op_sites: BTreeMap<(u32, u64), u64>,
    /// When the tracer first saw it (its creation, or its first operation).
    pub seen_at: Option<Instant>,
    /// Its hash seed as a report last read it (see [`Identity`]).
    pub identity: Identity,
}

/// A map's identity as the reports learn it from its header: the hash
/// seed (0: not read yet), and the deletes + clears seen when it was read
/// (the runtime draws a new seed when a delete empties the map and on
/// clear). Set by the reports through `&MapTable`, hence atomics.
#[derive(Debug, Default)]
pub struct Identity {
    seed: AtomicU64,
    resets: AtomicU64,
}

impl Identity {
    /// (seed, deletes + clears then), once read.
    pub fn get(&self) -> Option<(u64, u64)> {
        let seed = self.seed.load(Ordering::Relaxed);
        (seed != 0).then(|| (seed, self.resets.load(Ordering::Relaxed)))
    }

    pub fn set(&self, seed: u64, resets: u64) {
        self.seed.store(seed, Ordering::Relaxed);
        self.resets.store(resets, Ordering::Relaxed);
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        let (seed, resets) = self.get().unwrap_or((0, 0));
        let id = Identity::default();
        id.set(seed, resets);
        id
    }
}

/// The report's name of a `map_op` (None for makemap). sync.Map Swap and
/// LoadAndDelete are counted in `callers` until resolved, and timed under
/// the common name.
pub fn op_name_of(op: u32) -> Option<&'static str> {
    use op_name::*;
    Some(match op {
        map_op::ACCESS | map_op::SYNC_LOAD => LOAD,
        map_op::ASSIGN | map_op::SYNC_SWAP => STORE,
        map_op::DELETE | map_op::SYNC_LOAD_AND_DELETE => DELETE,
        map_op::ITERATE => ITERATE,
        map_op::CLEAR => CLEAR,
        map_op::GROW => GROW,
        map_op::SYNC_LOAD_OR_STORE => LOAD_OR_STORE,
        map_op::SYNC_RANGE => RANGE,
        _ => return None,
    })
}

/// Durations per operation of one map (since attach).
pub type Latencies = BTreeMap<&'static str, Durations>;

/// How to read a Go `*abi.Type` for the zero-value test (read-only).
pub trait TypeReader {
    /// `(size, kind, direct_iface)` of the type at `addr`.
    fn type_info(&mut self, addr: u64) -> Option<(u64, u8, bool)>;
}

#[derive(Default, Clone)]
pub struct MapTable {
    pub maps: HashMap<u64, MapStats>,
    pub latencies: HashMap<u64, Latencies>,
    /// Operations on maps beyond MAX_MAPS.
    pub untracked_ops: u64,
    /// Shortest entry→RET seen: the probes' own share of every duration.
    pub floor_ns: u64,
    /// makemap calls seen per creation stack (0: no stack), also beyond
    /// MAX_MAPS.
    pub made: HashMap<u64, u64>,
}

/// Go `abi.Kind` values used here (`internal/abi/type.go`).
const KIND_SLICE: u8 = 23;
const KIND_STRING: u8 = 24;

/// A stored interface value is "zero": nil, of a zero-size type, all zero
/// bytes (checked up to 16 bytes), or an empty string or slice.
pub fn is_zero_value(ev: &MapEvent, types: &mut dyn TypeReader) -> bool {
    if ev.value_type == 0 {
        return true;
    }
    let Some((size, kind, direct)) = types.type_info(ev.value_type) else {
        return false;
    };
    if size == 0 {
        return true;
    }
    if direct {
        return ev.value_data == 0;
    }
    let [a, b] = ev.value_bytes;
    if (kind == KIND_STRING || kind == KIND_SLICE) && b == 0 {
        return true;
    }
    match size {
        1..=7 => a & ((1u64 << (size * 8)) - 1) == 0,
        8 => a == 0,
        9..=15 => a == 0 && b & ((1u64 << ((size - 8) * 8)) - 1) == 0,
        _ => a == 0 && b == 0,
    }
}

impl MapTable {
    /// Records one event.
    pub fn record(&mut self, ev: &MapEvent, types: &mut dyn TypeReader) {
        let is_sync = ev.op >= map_op::FIRST_SYNC;
        if ev.op == map_op::MAKE {
            // A new map at this address: whatever was here was freed.
            self.maps.remove(&ev.map);
            self.latencies.remove(&ev.map);
            *self.made.entry(ev.stack_id).or_default() += 1;
        }
        if !self.maps.contains_key(&ev.map) && self.maps.len() >= MAX_MAPS {
            self.untracked_ops += 1;
            return;
        }
        let zero = ev.op == map_op::SYNC_SWAP || ev.op == map_op::SYNC_LOAD_OR_STORE;
        let zero = zero && is_zero_value(ev, types);
        let timed = self.latencies.contains_key(&ev.map) || self.latencies.len() < MAX_TIMED_MAPS;
        let m = self.maps.entry(ev.map).or_insert_with(|| MapStats {
            seen_at: Some(Instant::now()),
            ..Default::default()
        });
        m.sync = is_sync;
        if ev.map_type != 0 {
            m.map_type = ev.map_type;
        }
        if ev.stack_id != 0 && (m.stack_id == 0 || ev.op == map_op::MAKE) {
            m.stack_id = ev.stack_id;
            m.created = ev.op == map_op::MAKE;
        }
        let ok = match ev.result {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        };
        use op_name::*;
        let Some(name) = op_name_of(ev.op) else {
            return;
        };
        if name != GROW {
            *m.op_sites.entry((ev.op, ev.ret_pc)).or_default() += 1;
        }
        if ev.op == map_op::SYNC_SWAP || ev.op == map_op::SYNC_LOAD_AND_DELETE {
            *m.callers.entry((ev.op, ev.ret_pc)).or_default() += 1;
        } else {
            *m.ops.entry(name).or_default() += 1;
        }
        if name == LOAD && ok == Some(false) {
            *m.ops.entry(LOAD_MISS).or_default() += 1;
        }
        if zero {
            m.zero_stores += 1;
        }
        if ev.op == map_op::SYNC_RANGE && ev.result != u64::MAX {
            m.range_visited_sum += ev.result;
            m.range_visited_max = m.range_visited_max.max(ev.result);
            m.range_visited_calls += 1;
        }
        if ev.duration_ns > 0 {
            if self.floor_ns == 0 || ev.duration_ns < self.floor_ns {
                self.floor_ns = ev.duration_ns;
            }
            if timed {
                self.latencies
                    .entry(ev.map)
                    .or_default()
                    .entry(name)
                    .or_default()
                    .record(ev.duration_ns);
            }
        }
    }
}

/// `m.ops` plus its Swap / LoadAndDelete calls, named by their call sites.
pub fn resolved_ops(
    m: &MapStats,
    is_call_of: &mut dyn FnMut(u64, &'static str) -> bool,
) -> BTreeMap<&'static str, u64> {
    use op_name::*;
    let mut ops = m.ops.clone();
    for (&(op, pc), &n) in &m.callers {
        let name = match op {
            map_op::SYNC_SWAP if is_call_of(pc, ".Store") => STORE,
            map_op::SYNC_SWAP => SWAP,
            _ if is_call_of(pc, ".Delete") => DELETE,
            _ => LOAD_AND_DELETE,
        };
        *ops.entry(name).or_default() += n;
    }
    ops
}

/// Reads `*abi.Type` headers of the target (read-only), cached per type.
pub struct MemTypes {
    mem: crate::tracee::procmem::ProcMem,
    go_minor: u32,
    cache: HashMap<u64, Option<(u64, u8, bool)>>,
}

impl MemTypes {
    pub fn new(pid: u32, go_minor: u32) -> MemTypes {
        MemTypes {
            mem: crate::tracee::procmem::ProcMem::new(pid),
            go_minor,
            cache: HashMap::new(),
        }
    }
}

impl TypeReader for MemTypes {
    /// `abi.Type`: `Size_` at 0, `TFlag` at 20, `Kind_` at 23 (1.21–1.27).
    /// "Stored directly in an interface" is bit 5 of `Kind_` until 1.25 and
    /// of `TFlag` from 1.26.
    fn type_info(&mut self, addr: u64) -> Option<(u64, u8, bool)> {
        if self.cache.len() > 1 << 16 {
            self.cache.clear();
        }
        let (mem, minor) = (&self.mem, self.go_minor);
        *self.cache.entry(addr).or_insert_with(|| {
            let mut b = [0u8; 24];
            mem.read(addr, &mut b).ok()?;
            let size = u64::from_le_bytes(b[..8].try_into().ok()?);
            let (tflag, kind) = (b[20], b[23]);
            let direct = if minor >= 26 {
                tflag & 0x20 != 0
            } else {
                kind & 0x20 != 0
            };
            Some((size, kind & 0x1f, direct))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracer_common::kind;

    struct Types;
    impl TypeReader for Types {
        fn type_info(&mut self, addr: u64) -> Option<(u64, u8, bool)> {
            match addr {
                0x10 => Some((8, 2, false)),            // int
                0x20 => Some((16, KIND_STRING, false)), // string
                0x30 => Some((8, 22, true)),            // *T
                0x40 => Some((0, 25, false)),           // struct{}
                0x50 => Some((4, 5, false)),            // int32
                _ => None,
            }
        }
    }

    fn ev(op: u32, map: u64) -> MapEvent {
        MapEvent {
            kind: kind::MAP_OP,
            op,
            map,
            map_type: 0,
            duration_ns: 100,
            stack_id: 0,
            ret_pc: 0,
            result: u64::MAX,
            value_type: 0,
            value_data: 0,
            value_bytes: [0; 2],
        }
    }

    #[test]
    fn zero_values() {
        let mut t = Types;
        let v = |ty, data, bytes| MapEvent {
            value_type: ty,
            value_data: data,
            value_bytes: bytes,
            ..ev(map_op::SYNC_SWAP, 1)
        };
        assert!(is_zero_value(&v(0, 0, [0, 0]), &mut t));
        assert!(is_zero_value(&v(0x10, 0x99, [0, 7]), &mut t));
        assert!(!is_zero_value(&v(0x10, 0x99, [5, 0]), &mut t));
        assert!(is_zero_value(&v(0x20, 0x99, [0x1234, 0]), &mut t));
        assert!(!is_zero_value(&v(0x20, 0x99, [0x1234, 3]), &mut t));
        assert!(is_zero_value(&v(0x30, 0, [0, 0]), &mut t));
        assert!(!is_zero_value(&v(0x30, 0x99, [0, 0]), &mut t));
        assert!(is_zero_value(&v(0x40, 0x99, [9, 9]), &mut t));
        assert!(is_zero_value(
            &v(0x50, 0x99, [0xffff_ffff_0000_0000, 0]),
            &mut t
        ));
        assert!(!is_zero_value(&v(0x60, 0x99, [0, 0]), &mut t));
    }

    #[test]
    fn counts_ops_and_tells_store_from_swap() {
        let mut t = MapTable::default();
        let mut types = Types;
        let mut e = ev(map_op::SYNC_SWAP, 0x100);
        e.stack_id = 7;
        e.ret_pc = 0x1000;
        t.record(&e, &mut types);
        let mut swap = ev(map_op::SYNC_SWAP, 0x100);
        swap.ret_pc = 0x2000;
        t.record(&swap, &mut types);
        let mut del = ev(map_op::SYNC_LOAD_AND_DELETE, 0x100);
        del.ret_pc = 0x3000;
        t.record(&del, &mut types);
        let mut miss = ev(map_op::SYNC_LOAD, 0x100);
        miss.result = 0;
        t.record(&miss, &mut types);
        let m = &t.maps[&0x100];
        assert!(m.sync && !m.created && m.stack_id == 7);
        let ops = resolved_ops(m, &mut |pc, suffix| {
            (pc, suffix) == (0x1000, ".Store") || (pc, suffix) == (0x3000, ".Delete")
        });
        assert_eq!(ops[op_name::STORE], 1);
        assert_eq!(ops[op_name::SWAP], 1);
        assert_eq!(ops[op_name::DELETE], 1);
        assert!(!ops.contains_key(op_name::LOAD_AND_DELETE));
        assert_eq!(ops[op_name::LOAD], 1);
        assert_eq!(ops[op_name::LOAD_MISS], 1);
        assert_eq!(m.zero_stores, 2, "nil values");
        assert_eq!(t.latencies[&0x100][op_name::STORE].len(), 2);
        assert_eq!(t.floor_ns, 100);
    }

    #[test]
    fn makemap_replaces_a_reused_address() {
        let mut t = MapTable::default();
        let mut types = Types;
        t.record(&ev(map_op::ASSIGN, 0x200), &mut types);
        let mut mk = ev(map_op::MAKE, 0x200);
        mk.stack_id = 9;
        t.record(&mk, &mut types);
        let m = &t.maps[&0x200];
        assert!(m.created && m.stack_id == 9 && m.ops.is_empty());
        assert_eq!(t.made[&9], 1);
        assert!(m.seen_at.is_some());
    }
}
