//! Slow, independent recounts for the tests: one `ProcMem::read` per
//! bucket or table, no sampling, no batching, none of the reader's code.
//! Offsets come from the (unmutated) layout table, the tophash and control
//! byte values from the Go sources, written out here.

use std::collections::HashSet;

use crate::tracee::golayout::{HmapLayout, SwissLayout};
use crate::tracee::procmem::ProcMem;

/// `runtime/map.go`: tophash of a deleted slot, and the first real hash.
const EMPTY_ONE: u8 = 1;
const MIN_TOP_HASH: u8 = 5;
/// `internal/runtime/maps/group.go`.
const CTRL_DELETED: u8 = 0xFE;
const CTRL_EMPTY: u8 = 0x80;

#[derive(Debug, Default, Clone, Copy)]
pub struct Count {
    /// Classic: `emptyOne` slots; Swiss: `ctrlDeleted` bytes.
    pub tombstones: u64,
    /// Slots in use.
    pub full: u64,
    /// Classic: 8 × (2^B + overflow buckets of the current array);
    /// Swiss: Σ capacity of the distinct tables (8 for a small map).
    pub capacity: u64,
    pub growing: bool,
}

fn u64_at(mem: &ProcMem, a: u64) -> u64 {
    mem.read_u64(a).expect("read")
}

/// Every bucket and overflow bucket of the current and (while growing)
/// the old array.
pub fn classic(mem: &ProcMem, hl: &HmapLayout, map: u64, map_type: u64) -> Count {
    let b = mem.read_u8(map + hl.b).expect("B");
    let flags = mem.read_u8(map + hl.flags).expect("flags");
    let buckets = u64_at(mem, map + hl.buckets);
    let old = u64_at(mem, map + hl.oldbuckets);
    let mut bsb = [0u8; 2];
    mem.read(map_type + hl.map_type.bucket_size, &mut bsb)
        .expect("BucketSize");
    let bs = u64::from(u16::from_le_bytes(bsb));
    let old_b = if flags & hl.flag_same_size_grow != 0 {
        b
    } else {
        b.saturating_sub(1)
    };
    let mut c = Count {
        growing: old != 0,
        ..Count::default()
    };
    let mut bucket = vec![0u8; bs as usize];
    for (array, n, current) in [(buckets, 1u64 << b, true), (old, 1u64 << old_b, false)] {
        if array == 0 {
            continue;
        }
        if current {
            c.capacity += 8 * n;
        }
        for i in 0..n {
            let mut p = array + i * bs;
            for hop in 0.. {
                assert!(hop < 10_000, "overflow chain cycle at {p:#x}");
                mem.read(p, &mut bucket).expect("bucket");
                for &t in &bucket[..8] {
                    if t == EMPTY_ONE {
                        c.tombstones += 1;
                    } else if t >= MIN_TOP_HASH {
                        c.full += 1;
                    }
                }
                let mut w = [0u8; 8];
                w.copy_from_slice(&bucket[bs as usize - 8..]);
                p = u64::from_le_bytes(w);
                if p == 0 {
                    break;
                }
                if current {
                    c.capacity += 8;
                }
            }
        }
    }
    c
}

/// Every control byte of every group of every distinct table.
pub fn swiss(mem: &ProcMem, sl: &SwissLayout, map: u64, map_type: u64) -> Count {
    let dir_len = u64_at(mem, map + sl.map.dir_len);
    let dir_ptr = u64_at(mem, map + sl.map.dir_ptr);
    let group_size = u64_at(mem, map_type + sl.map_type.group_size);
    let mut c = Count::default();
    let count_ctrl = |ctrl: &[u8], c: &mut Count| {
        for &b in ctrl {
            if b == CTRL_DELETED {
                c.tombstones += 1;
            } else if b & CTRL_EMPTY == 0 {
                c.full += 1;
            }
        }
    };
    if dir_len == 0 {
        if dir_ptr != 0 {
            let mut ctrl = [0u8; 8];
            mem.read(dir_ptr, &mut ctrl).expect("ctrl");
            count_ctrl(&ctrl, &mut c);
            c.capacity = 8;
        }
        return c;
    }
    let mut seen = HashSet::new();
    for i in 0..dir_len {
        let t = u64_at(mem, dir_ptr + 8 * i);
        if !seen.insert(t) {
            continue;
        }
        let mut cap = [0u8; 2];
        mem.read(t + sl.table.capacity, &mut cap).expect("capacity");
        c.capacity += u64::from(u16::from_le_bytes(cap));
        let data = u64_at(mem, t + sl.table.groups + sl.table.groups_data);
        let groups = u64_at(mem, t + sl.table.groups + sl.table.groups_length_mask) + 1;
        let mut all = vec![0u8; (groups * group_size) as usize];
        mem.read(data, &mut all).expect("groups");
        for g in all.chunks_exact(group_size as usize) {
            count_ctrl(&g[..8], &mut c);
        }
    }
    c
}
