//! Swiss-table Go maps: `internal/runtime/maps.Map` (Go ≥ 1.24).
//!
//! The header either points at a single group (small map, `dirLen` 0) or
//! at a directory of `dirLen` table pointers, where a table of local depth
//! d fills 2^(globalDepth − d) consecutive entries. Every number reported
//! comes from the 32-byte table headers (`used`, `capacity`, `growthLeft`,
//! `groups.lengthMask`); the groups themselves are never read.

use std::collections::HashMap;

use super::{
    alloc, check_ptr, implausible, le_u16, le_u32, le_u64, read_exact, read_ranges, read_type,
    sample_count, sample_indices, MapDetail, MapShape, Result, ScanBudget, TypeInfo,
};
use crate::tracee::golayout::{Layout, SwissLayout};
use crate::tracee::procmem::ProcMem;

/// Directory entries read per batch.
const DIR_CHUNK: usize = 65_536;

/// Deepest plausible directory: 2^30 entries would be an 8 GiB directory.
const MAX_GLOBAL_DEPTH: u8 = 30;

/// What the map type tells about storage.
#[derive(Debug, Clone, Copy)]
struct SwissType {
    group_size: u64,
    /// The group type holds pointers (allocation size class).
    group_scan: bool,
    indirect_key: Option<TypeInfo>,
    indirect_elem: Option<TypeInfo>,
}

impl SwissType {
    fn read(mem: &ProcMem, layout: &Layout, sl: &SwissLayout, t: u64) -> Result<SwissType> {
        check_ptr("*abi.MapType", t)?;
        let mt = &sl.map_type;
        let g = &sl.group;
        let mut b = vec![0u8; mt.size as usize];
        read_exact(mem, "abi.MapType", t, &mut b)?;
        let group_size = le_u64(&b, mt.group_size);
        let flags = le_u32(&b, mt.flags);
        let group_type = read_type(mem, layout, le_u64(&b, mt.group))?;
        if group_type.size != group_size || group_size < g.ctrl_word_size + g.slots {
            return implausible(
                "abi.MapType.GroupSize",
                group_size,
                "not the group type's size",
            );
        }
        // Slots must fit in the group: SlotSize (≤ 1.26) or the strides (1.27).
        let last_slot_end = match (mt.slot_size, g.slots_offset, mt.keys_off, mt.key_stride) {
            (Some(slot), Some(off), _, _) => {
                let slot = le_u64(&b, slot);
                (off + g.slots * slot == group_size).then_some(group_size)
            }
            (_, _, Some(ko), Some(ks)) => {
                let (ko, ks) = (le_u64(&b, ko), le_u64(&b, ks));
                ks.checked_mul(g.slots - 1)
                    .and_then(|span| ko.checked_add(span))
                    .filter(|&e| ko >= g.ctrl_word_size && e <= group_size)
                    .map(|_| group_size)
            }
            _ => None,
        };
        if last_slot_end.is_none() {
            return implausible(
                "abi.MapType slot layout",
                group_size,
                "slots do not fit the group",
            );
        }
        let indirect = |flag: u32, off: u64, max: u64| -> Result<Option<TypeInfo>> {
            if flags & flag == 0 {
                return Ok(None);
            }
            let ty = read_type(mem, layout, le_u64(&b, off))?;
            if ty.size <= max {
                return implausible(
                    "indirect key/elem size",
                    ty.size,
                    "stored indirectly but not bigger than the inline maximum",
                );
            }
            Ok(Some(ty))
        };
        Ok(SwissType {
            group_size,
            group_scan: group_type.has_pointers,
            indirect_key: indirect(mt.flag_indirect_key, mt.key, g.max_key_bytes)?,
            indirect_elem: indirect(mt.flag_indirect_elem, mt.elem, g.max_elem_bytes)?,
        })
    }

    fn indirect_bytes(&self, live: u64, layout: &Layout) -> u64 {
        [self.indirect_key, self.indirect_elem]
            .into_iter()
            .flatten()
            .map(|ty| live.saturating_mul(alloc(ty.size, ty.has_pointers, layout)))
            .fold(0, u64::saturating_add)
    }
}

/// One `maps.table` header.
#[derive(Debug, Clone, Copy)]
struct Table {
    used: u64,
    capacity: u64,
    growth_left: u64,
    local_depth: u8,
    index: i64,
    groups: u64,
}

impl Table {
    fn parse(sl: &SwissLayout, b: &[u8], global_depth: u8) -> Result<Table> {
        let tl = &sl.table;
        let t = Table {
            used: u64::from(le_u16(b, tl.used)),
            capacity: u64::from(le_u16(b, tl.capacity)),
            growth_left: u64::from(le_u16(b, tl.growth_left)),
            local_depth: b[tl.local_depth as usize],
            index: le_u64(b, tl.index) as i64,
            groups: le_u64(b, tl.groups + tl.groups_data),
        };
        let length_mask = le_u64(b, tl.groups + tl.groups_length_mask);
        let slots = sl.group.slots;
        if !t.capacity.is_power_of_two() || t.capacity < slots || t.capacity > tl.max_table_capacity
        {
            return implausible(
                "table.capacity",
                t.capacity,
                "not a power of two in 8..=1024",
            );
        }
        if length_mask.checked_add(1) != Some(t.capacity / slots) {
            return implausible("table.groups.lengthMask", length_mask, "not capacity/8 - 1");
        }
        if t.used + t.growth_left > t.max_load(sl) {
            return implausible(
                "table.used + growthLeft",
                t.used + t.growth_left,
                "over the max load",
            );
        }
        if t.local_depth > global_depth {
            return implausible(
                "table.localDepth",
                u64::from(t.local_depth),
                "deeper than the directory",
            );
        }
        check_ptr("table.groups.data", t.groups)?;
        Ok(t)
    }

    /// Slots usable before a rehash: capacity × 7/8 (the runtime keeps
    /// one slot free in a single-group table: growthLeft starts at 7).
    fn max_load(&self, sl: &SwissLayout) -> u64 {
        self.capacity * sl.group.max_avg_group_load / sl.group.slots
    }

    /// `(*table).tombstones`: capacity × 7/8 − used − growthLeft.
    fn tombstones(&self, sl: &SwissLayout) -> u64 {
        self.max_load(sl) - self.used - self.growth_left
    }

    /// Directory entries pointing at this table.
    fn multiplicity(&self, global_depth: u8) -> u64 {
        1u64 << (global_depth - self.local_depth)
    }
}

/// Sums over tables (weighted when sampled).
#[derive(Debug, Default)]
struct Sums {
    tables: f64,
    capacity: f64,
    tombstones: f64,
    groups: f64,
    used: f64,
    bytes: f64,
}

impl Sums {
    fn add(&mut self, t: &Table, sl: &SwissLayout, table_bytes: u64, w: f64) {
        self.tables += w;
        self.capacity += w * t.capacity as f64;
        self.tombstones += w * t.tombstones(sl) as f64;
        self.groups += w * (t.capacity / sl.group.slots) as f64;
        self.used += w * t.used as f64;
        self.bytes += w * table_bytes as f64;
    }
}

pub(super) fn read(
    mem: &ProcMem,
    layout: &Layout,
    sl: &SwissLayout,
    addr: u64,
    map_type: Option<u64>,
    budget: &ScanBudget,
) -> Result<MapShape> {
    let ml = &sl.map;
    let mut h = vec![0u8; ml.size as usize];
    read_exact(mem, "maps.Map", addr, &mut h)?;
    let used = le_u64(&h, ml.used);
    let dir_ptr = le_u64(&h, ml.dir_ptr);
    let dir_len = le_u64(&h, ml.dir_len);
    let global_depth = h[ml.global_depth as usize];
    let global_shift = h[ml.global_shift as usize];
    let writing = h[ml.writing as usize] != 0;
    let ty = match map_type {
        Some(t) => Some(SwissType::read(mem, layout, sl, t)?),
        None => None,
    };
    let header_bytes = alloc(ml.size, true, layout);
    let slots = sl.group.slots;

    if dir_len == 0 {
        // Small map: one group (or none yet), never a tombstone.
        if used > slots {
            return implausible(
                "Map.used",
                used,
                "more than one group holds, without a table",
            );
        }
        if dir_ptr == 0 {
            if used != 0 {
                return implausible("Map.used", used, "entries but no group");
            }
        } else {
            check_ptr("Map.dirPtr", dir_ptr)?;
        }
        let mut torn = writing;
        if dir_ptr != 0 {
            let ctrl = super::read_u64(mem, "small map control word", dir_ptr)?;
            // Full slots have the top bit clear (ctrlEmpty and ctrlDeleted set it).
            let empty = sl.group.ctrl_empty;
            let full = ctrl
                .to_le_bytes()
                .iter()
                .filter(|&&c| c & empty == 0)
                .count() as u64;
            torn |= full != used;
        }
        let (capacity, groups) = if dir_ptr == 0 { (0, 0) } else { (slots, 1) };
        let bytes = ty.map_or(0, |ty| {
            let group = if dir_ptr == 0 {
                0
            } else {
                alloc(ty.group_size, ty.group_scan, layout)
            };
            (header_bytes + group).saturating_add(ty.indirect_bytes(used, layout))
        });
        return Ok(MapShape {
            live: used,
            capacity_slots: capacity,
            tombstones: 0,
            bytes,
            scanned_fraction: 1.0,
            growing: false,
            type_known: ty.is_some(),
            torn,
            detail: MapDetail::Swiss {
                dir_len: 0,
                tables: 0,
                groups,
            },
        });
    }

    if global_depth > MAX_GLOBAL_DEPTH || dir_len != 1u64 << global_depth {
        return implausible("Map.dirLen", dir_len, "not 2^globalDepth");
    }
    // globalShift = 64 - globalDepth (depthToShift), 8 bits wide.
    if u32::from(global_shift) != 64 - u32::from(global_depth) {
        return implausible(
            "Map.globalShift",
            u64::from(global_shift),
            "not 64 - globalDepth",
        );
    }
    check_ptr("Map.dirPtr", dir_ptr)?;
    if used > dir_len * sl.table.max_table_capacity {
        return implausible(
            "Map.used",
            used,
            "more than the directory's tables can hold",
        );
    }

    // Directory entries to read: all, or an even sample; in chunks, after
    // checking that the directory's last entry is readable (a garbage
    // dirLen must not make us allocate or walk gigabytes).
    read_exact(
        mem,
        "map directory end",
        dir_ptr + 8 * (dir_len - 1),
        &mut [0u8; 8],
    )?;
    let sampled = dir_len > budget.max_buckets;
    let n_read = sample_count(dir_len, budget.max_buckets);
    // Distinct tables: first directory index seen and how often seen.
    let mut distinct: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut order: Vec<u64> = Vec::new();
    let mut indexes = sample_indices(dir_len, budget.max_buckets);
    loop {
        let chunk: Vec<u64> = indexes.by_ref().take(DIR_CHUNK).collect();
        let (Some(&lo), Some(&hi)) = (chunk.first(), chunk.last()) else {
            break;
        };
        let b = if sampled {
            let ranges: Vec<(u64, usize)> = chunk.iter().map(|&i| (dir_ptr + 8 * i, 8)).collect();
            read_ranges(mem, "map directory", &ranges)?
        } else {
            let mut b = vec![0u8; ((hi - lo + 1) * 8) as usize];
            read_exact(mem, "map directory", dir_ptr + 8 * lo, &mut b)?;
            b
        };
        for (&i, p) in chunk
            .iter()
            .zip(b.as_chunks::<8>().0.iter().map(|c| le_u64(c, 0)))
        {
            check_ptr("map directory entry", p)?;
            distinct
                .entry(p)
                .and_modify(|e| e.1 += 1)
                .or_insert_with(|| {
                    order.push(p);
                    (i, 1)
                });
        }
    }
    let ts = sl.table.size as usize;
    let ranges: Vec<(u64, usize)> = order.iter().map(|&p| (p, ts)).collect();
    let raw = read_ranges(mem, "maps.table", &ranges)?;

    let mut torn = writing;
    let mut sums = Sums::default();
    let per_entry = dir_len as f64 / n_read as f64;
    for (&p, b) in order.iter().zip(raw.chunks_exact(ts)) {
        let t = Table::parse(sl, b, global_depth)?;
        let (first, seen) = distinct[&p];
        let mult = t.multiplicity(global_depth);
        // A table fills 2^(globalDepth - localDepth) entries from its index.
        let index_ok = t.index >= 0 && {
            let ix = t.index as u64;
            if sampled {
                ix <= first && first < ix + mult
            } else {
                ix == first && seen == mult
            }
        };
        torn |= !index_ok;
        let table_bytes = ty.map_or(0, |ty| {
            alloc(sl.table.size, true, layout)
                + alloc((t.capacity / slots) * ty.group_size, ty.group_scan, layout)
        });
        // Sampled: each directory entry stands for `per_entry` entries,
        // and a table is seen through `mult` of them.
        let w = if sampled {
            seen as f64 * per_entry / mult as f64
        } else {
            1.0
        };
        sums.add(&t, sl, table_bytes, w);
    }
    if !sampled && sums.used as u64 != used {
        torn = true;
    }
    let bytes = ty.map_or(0, |ty| {
        (header_bytes + alloc(dir_len * 8, true, layout) + sums.bytes.round() as u64)
            .saturating_add(ty.indirect_bytes(used, layout))
    });
    Ok(MapShape {
        live: used,
        capacity_slots: sums.capacity.round() as u64,
        tombstones: sums.tombstones.round() as u64,
        bytes,
        scanned_fraction: n_read as f64 / dir_len as f64,
        growing: false,
        type_known: ty.is_some(),
        torn,
        detail: MapDetail::Swiss {
            dir_len,
            tables: sums.tables.round() as u64,
            groups: sums.groups.round() as u64,
        },
    })
}
