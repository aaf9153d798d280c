//! `sync.Map`: the read/dirty implementation (`sync/map.go`, Go ≤ 1.23)
//! and the hash trie (`internal/sync/hashtriemap.go`, Go ≥ 1.24).

use std::collections::{HashMap, HashSet};

use super::classic::{self, Geometry};
use super::{
    alloc, check_ptr, le_u32, le_u64, read_exact, read_ranges, read_u64, sample_indices,
    MapReadError, MapShape, Result, ScanBudget, SyncMapDetail, SyncMapShape,
};
use crate::tracee::golayout::Layout;
use crate::tracee::procmem::ProcMem;

/// Most entries chained through `overflow` (full 64-bit hash collisions:
/// in practice never more than a handful).
const MAX_OVERFLOW_CHAIN: u64 = 1024;

/// Reads a Go ≤ 1.23 `sync.Map` (see [`SyncMapShape`]).
pub(super) fn read_dirty(
    mem: &ProcMem,
    layout: &Layout,
    addr: u64,
    expunged_var: Option<u64>,
    budget: &ScanBudget,
) -> Result<SyncMapShape> {
    let rd = layout
        .sync_map
        .read_dirty
        .as_ref()
        .ok_or(MapReadError::NoLayout("read/dirty sync.Map"))?;
    let hl = layout.hmap.as_ref().ok_or(MapReadError::NoLayout("hmap"))?;
    let mut b = vec![0u8; layout.sync_map.size as usize];
    read_exact(mem, "sync.Map", addr, &mut b)?;
    let read_ptr = le_u64(&b, rd.read);
    let dirty = le_u64(&b, rd.dirty);
    let misses = le_u64(&b, rd.misses);
    let (read_m, amended) = if read_ptr == 0 {
        (0, false)
    } else {
        check_ptr("sync.Map.read", read_ptr)?;
        let mut r = vec![0u8; rd.read_only_size as usize];
        read_exact(mem, "sync.readOnly", read_ptr, &mut r)?;
        (
            le_u64(&r, rd.read_only_m),
            r[rd.read_only_amended as usize] != 0,
        )
    };
    if misses > 1 << 48 {
        return Err(MapReadError::Implausible {
            what: "sync.Map.misses",
            value: misses,
            why: "negative or absurd",
        });
    }

    // Both maps are map[any]*entry: 16-byte keys, 8-byte elems, pointers.
    let geom = Geometry::for_slots(hl, 16, 8, true);
    let cnt = hl.bucket.bucket_cnt as usize;
    let elems = hl.bucket.data_offset + hl.bucket.bucket_cnt * geom.key_slot;
    let walk = |m: u64| -> Result<(Option<MapShape>, Vec<u64>)> {
        if m == 0 {
            return Ok((None, Vec::new()));
        }
        let mut entries = Vec::new();
        let mut visit = |bucket: &[u8]| {
            for (i, &top) in bucket[..cnt].iter().enumerate() {
                if top >= hl.bucket.min_top_hash {
                    entries.push(le_u64(bucket, elems + 8 * i as u64));
                }
            }
        };
        let shape = classic::read(mem, layout, hl, m, Some(&geom), budget, Some(&mut visit))?;
        for &e in &entries {
            check_ptr("*sync.entry", e)?;
        }
        Ok((Some(shape), entries))
    };
    let (read_shape, read_entries) = walk(read_m)?;
    let (dirty_shape, dirty_entries) = walk(dirty)?;
    let len = |s: &Option<MapShape>| s.as_ref().map_or(0, |s| s.live);
    let (read_len, dirty_len) = (len(&read_shape), len(&dirty_shape));
    let full = [&read_shape, &dirty_shape]
        .iter()
        .all(|s| s.as_ref().is_none_or(|s| s.scanned_fraction >= 1.0));

    // entry.p of every entry needed: all distinct ones in a full scan, the
    // read map's sample otherwise.
    let mut torn = [&read_shape, &dirty_shape]
        .iter()
        .any(|s| s.as_ref().is_some_and(|s| s.torn));
    let mut wanted: Vec<u64> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    for &e in read_entries
        .iter()
        .chain(if full { &dirty_entries[..] } else { &[] })
    {
        if seen.insert(e) {
            wanted.push(e);
        }
    }
    // Within one map every key has its own entry.
    if full && seen.len() < read_entries.len().max(dirty_entries.len()) {
        torn = true;
    }
    let ranges: Vec<(u64, usize)> = wanted.iter().map(|&e| (e + rd.entry_p, 8)).collect();
    let ps: Vec<u64> = read_ranges(mem, "sync.entry.p", &ranges)?
        .as_chunks::<8>()
        .0
        .iter()
        .map(|c| le_u64(c, 0))
        .collect();
    let sentinel = match expunged_var {
        Some(var) => {
            check_ptr("&sync.expunged", var)?;
            let v = read_u64(mem, "sync.expunged", var)?;
            check_ptr("sync.expunged", v)?;
            Some(v)
        }
        None => infer_sentinel(&ps),
    };
    let (mut live, mut deleted, mut expunged) = (0u64, 0u64, 0u64);
    for &p in &ps {
        if p == 0 {
            deleted += 1;
        } else if Some(p) == sentinel {
            expunged += 1;
        } else {
            live += 1;
        }
    }
    let held;
    if full {
        held = wanted.len() as u64;
    } else {
        // Sampled: classify the read map's sample, scale to len(read.m),
        // and use the invariant that the dirty map (when non-nil) holds
        // every non-expunged entry of the read map plus the new keys.
        let n = read_entries.len().max(1) as f64;
        let s = |x: u64| (x as f64 * read_len as f64 / n).round() as u64;
        let (l, d, x) = (s(live), s(deleted), s(expunged));
        let dirty_only = if dirty == 0 {
            0
        } else {
            dirty_len.saturating_sub(read_len.saturating_sub(x))
        };
        held = read_len + dirty_only;
        live = l + dirty_only;
        deleted = d;
        expunged = x;
    }

    let mut bytes = held * alloc(8, true, layout) + live * alloc(16, true, layout);
    if read_ptr != 0 {
        bytes += alloc(rd.read_only_size, true, layout);
    }
    let (mut slots, mut scanned) = (0.0, 0.0);
    for s in [&read_shape, &dirty_shape].into_iter().flatten() {
        bytes += s.bytes;
        slots += s.capacity_slots as f64;
        scanned += s.capacity_slots as f64 * s.scanned_fraction;
    }
    Ok(SyncMapShape {
        live,
        held,
        bytes,
        scanned_fraction: if slots == 0.0 { 1.0 } else { scanned / slots },
        torn,
        detail: SyncMapDetail::ReadDirty {
            read_len,
            dirty_len,
            misses,
            amended,
            deleted,
            expunged,
            sentinel,
        },
    })
}

/// The `expunged` sentinel among the `entry.p` values: the one non-nil
/// value shared by several entries (every `Store` boxes a fresh value).
fn infer_sentinel(ps: &[u64]) -> Option<u64> {
    let mut n: HashMap<u64, u64> = HashMap::new();
    for &p in ps.iter().filter(|&&p| p != 0) {
        *n.entry(p).or_default() += 1;
    }
    n.into_iter()
        .filter(|&(_, c)| c >= 2)
        .max_by_key(|&(p, c)| (c, p))
        .map(|(p, _)| p)
}

/// Reads a Go ≥ 1.24 `sync.Map` (`internal/sync.HashTrieMap[any, any]`).
pub(super) fn hash_trie(
    mem: &ProcMem,
    layout: &Layout,
    addr: u64,
    budget: &ScanBudget,
) -> Result<SyncMapShape> {
    let ht = layout
        .sync_map
        .hash_trie
        .as_ref()
        .ok_or(MapReadError::NoLayout("hash-trie sync.Map"))?;
    let (ind, ent) = (&ht.indirect, &ht.entry);
    let mut b = vec![0u8; ht.size as usize];
    read_exact(mem, "internal/sync.HashTrieMap", addr + ht.m, &mut b)?;
    let inited = le_u32(&b, ht.inited);
    let root = le_u64(&b, ht.root);
    let empty = |torn| SyncMapShape {
        live: 0,
        held: 0,
        bytes: 0,
        scanned_fraction: 1.0,
        torn,
        detail: SyncMapDetail::HashTrie {
            indirect_nodes: 0,
            entries: 0,
            overflow_entries: 0,
            max_depth: 0,
        },
    };
    if root == 0 {
        // Never used (root is set by the first operation).
        return Ok(empty(inited != 0));
    }
    check_ptr("HashTrieMap.root", root)?;

    // The first bytes of a node: isEntry, entry.overflow, indirect.dead
    // and indirect.parent.
    let head = [
        ht.node_is_entry + 1,
        ent.overflow + 8,
        ind.dead + 1,
        ind.parent + 8,
    ]
    .into_iter()
    .max()
    .unwrap_or(0) as usize;
    let is_entry = |h: &[u8], what| match h[ht.node_is_entry as usize] {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(MapReadError::Implausible {
            what,
            value: u64::from(v),
            why: "node.isEntry is not a bool",
        }),
    };
    let root_head = read_ranges(mem, "hash-trie root", &[(root, head)])?;
    if is_entry(&root_head, "root node")? || le_u64(&root_head, ind.parent) != 0 {
        return Err(MapReadError::Implausible {
            what: "HashTrieMap.root",
            value: root,
            why: "not a parentless indirect node",
        });
    }

    let max_depth = 64 / ind.n_children_log2.max(1);
    let children_len = (ind.n_children * 8) as usize;
    let mut torn = root_head[ind.dead as usize] != 0;
    // Estimated counts (sampling weights applied), and what was read.
    let (mut indirect_nodes, mut entries, mut overflow_entries) = (0.0f64, 0.0f64, 0.0f64);
    let mut expanded = 0u64;
    let mut weight = 1.0f64;
    let mut depth = 0u32;
    let mut frontier = vec![root];
    while !frontier.is_empty() {
        if u64::from(depth) > max_depth {
            return Err(MapReadError::TooLong {
                what: "hash-trie levels",
                limit: max_depth,
            });
        }
        // Over budget: expand an even sample of this level. A level below
        // a spent budget still gets a quarter of it: a sample of one or
        // two nodes there, scaled up by the whole level, made the count
        // swing by half or more (a few entries sit one level deeper
        // where hashes collide).
        let left = budget
            .max_nodes
            .saturating_sub(expanded)
            .max(budget.max_nodes / 4)
            .max(1);
        if frontier.len() as u64 > left {
            let n = frontier.len() as u64;
            weight *= n as f64 / left as f64;
            frontier = sample_indices(n, left)
                .map(|i| frontier[i as usize])
                .collect();
        }
        indirect_nodes += weight * frontier.len() as f64;
        expanded += frontier.len() as u64;

        let ranges: Vec<(u64, usize)> = frontier
            .iter()
            .map(|&n| (n + ind.children, children_len))
            .collect();
        let kids = read_ranges(mem, "hash-trie children", &ranges)?;
        let mut children: Vec<(u64, u64)> = Vec::new(); // (child, parent)
        for (&parent, c) in frontier.iter().zip(kids.chunks_exact(children_len)) {
            for p in c
                .as_chunks::<8>()
                .0
                .iter()
                .map(|w| le_u64(w, 0))
                .filter(|&p| p != 0)
            {
                check_ptr("hash-trie child", p)?;
                children.push((p, parent));
            }
        }
        let ranges: Vec<(u64, usize)> = children.iter().map(|&(p, _)| (p, head)).collect();
        let heads = read_ranges(mem, "hash-trie nodes", &ranges)?;
        let mut next = Vec::new();
        let mut chain: Vec<u64> = Vec::new();
        for (&(p, parent), h) in children.iter().zip(heads.chunks_exact(head)) {
            if is_entry(h, "hash-trie child")? {
                entries += weight;
                let o = le_u64(h, ent.overflow);
                if o != 0 {
                    chain.push(o);
                }
            } else {
                if le_u64(h, ind.parent) != parent {
                    return Err(MapReadError::Implausible {
                        what: "indirect.parent",
                        value: le_u64(h, ind.parent),
                        why: "not the node it hangs from",
                    });
                }
                torn |= h[ind.dead as usize] != 0;
                next.push(p);
            }
        }
        // Overflow chains: entries whose whole hash collides.
        let mut hops = 0u64;
        while !chain.is_empty() {
            hops += 1;
            if hops > MAX_OVERFLOW_CHAIN {
                return Err(MapReadError::TooLong {
                    what: "entries in an overflow chain",
                    limit: MAX_OVERFLOW_CHAIN,
                });
            }
            for &o in &chain {
                check_ptr("entry.overflow", o)?;
            }
            let ranges: Vec<(u64, usize)> = chain.iter().map(|&o| (o, head)).collect();
            let heads = read_ranges(mem, "hash-trie overflow entries", &ranges)?;
            chain.clear();
            for h in heads.chunks_exact(head) {
                if !is_entry(h, "overflow entry")? {
                    return Err(MapReadError::Implausible {
                        what: "entry.overflow",
                        value: 0,
                        why: "points at an indirect node",
                    });
                }
                entries += weight;
                overflow_entries += weight;
                let o = le_u64(h, ent.overflow);
                if o != 0 {
                    chain.push(o);
                }
            }
        }
        frontier = next;
        depth += 1;
    }
    let n = entries.round() as u64;
    let nodes = indirect_nodes.round() as u64;
    Ok(SyncMapShape {
        live: n,
        held: n,
        bytes: nodes * alloc(ind.size, true, layout) + n * alloc(ent.size, true, layout),
        scanned_fraction: expanded as f64 / indirect_nodes.max(1.0),
        torn,
        detail: SyncMapDetail::HashTrie {
            indirect_nodes: nodes,
            entries: n,
            overflow_entries: overflow_entries.round() as u64,
            max_depth: depth.saturating_sub(1),
        },
    })
}
