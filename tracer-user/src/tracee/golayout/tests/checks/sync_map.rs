//! `sync.Map`: read/dirty (≤ 1.23) or hash-trie (1.24+) layouts.

use crate::tracee::golayout::layout::{Layout, SyncMapImpl};
use crate::tracee::golayout::syncmap::{HashTrieLayout, ReadDirtyLayout};
use crate::tracee::golayout::tests::checker::Checker;

pub fn check(c: &mut Checker<'_>, l: &Layout) {
    const SM: &[&str] = &["sync.Map"];
    const HTM: &str = "internal/sync.HashTrieMap[interface {},interface {}]";
    let has_read_only = c.dwarf.structs.contains_key("sync.readOnly");
    let has_trie = c.dwarf.structs.contains_key(HTM);
    let dwarf_impl = match (has_read_only, has_trie) {
        (true, false) => Some(SyncMapImpl::ReadDirty),
        (false, true) => Some(SyncMapImpl::HashTrie),
        _ => None,
    };
    c.eq(
        "sync_map_impl",
        Some(l.sync_map_impl),
        dwarf_impl,
        "DWARF (sync.readOnly vs HashTrieMap)",
    );
    let sm = &l.sync_map;
    c.eq(
        "sync_map.read_dirty/hash_trie",
        (sm.read_dirty.is_some(), sm.hash_trie.is_some()),
        (
            l.sync_map_impl == SyncMapImpl::ReadDirty,
            l.sync_map_impl == SyncMapImpl::HashTrie,
        ),
        "sync_map_impl",
    );
    c.size("sync_map.size", SM, sm.size);
    if let Some(r) = &sm.read_dirty {
        check_read_dirty(c, r);
    }
    if let Some(h) = &sm.hash_trie {
        check_hash_trie(c, h, HTM);
    }
}

fn check_read_dirty(c: &mut Checker<'_>, r: &ReadDirtyLayout) {
    const SM: &[&str] = &["sync.Map"];
    const RO: &[&str] = &["sync.readOnly"];
    c.member("sync_map.read_dirty.mu", SM, "mu", r.mu);
    c.member("sync_map.read_dirty.read", SM, "read", r.read);
    c.member("sync_map.read_dirty.dirty", SM, "dirty", r.dirty);
    c.member("sync_map.read_dirty.misses", SM, "misses", r.misses);
    c.size("sync_map.read_dirty.read_only_size", RO, r.read_only_size);
    c.member("sync_map.read_dirty.read_only_m", RO, "m", r.read_only_m);
    c.member(
        "sync_map.read_dirty.read_only_amended",
        RO,
        "amended",
        r.read_only_amended,
    );
    c.member(
        "sync_map.read_dirty.entry_p",
        &["sync.entry"],
        "p",
        r.entry_p,
    );
    c.var(
        "sync_map.read_dirty.expunged_symbol",
        r.expunged_symbol,
        "*interface {}",
    );
}

fn check_hash_trie(c: &mut Checker<'_>, h: &HashTrieLayout, htm: &str) {
    const ARGS: &str = "[interface {},interface {}]";
    const SHAPE: &str = "[go.shape.interface {},go.shape.interface {}]";
    let ht: &[&str] = &[htm];
    let ind_names = [
        format!("internal/sync.indirect{ARGS}"),
        format!("internal/sync.indirect{SHAPE}"),
    ];
    let ent_names = [
        format!("internal/sync.entry{ARGS}"),
        format!("internal/sync.entry{SHAPE}"),
    ];
    let node_names = [
        format!("internal/sync.node{ARGS}"),
        format!("internal/sync.node{SHAPE}"),
    ];
    let ind: Vec<&str> = ind_names.iter().map(String::as_str).collect();
    let ent: Vec<&str> = ent_names.iter().map(String::as_str).collect();
    let node: Vec<&str> = node_names.iter().map(String::as_str).collect();

    c.member("sync_map.hash_trie.m", &["sync.Map"], "m", h.m);
    c.size("sync_map.hash_trie.size", ht, h.size);
    let members = [
        ("sync_map.hash_trie.inited", "inited", h.inited),
        ("sync_map.hash_trie.init_mu", "initMu", h.init_mu),
        ("sync_map.hash_trie.root", "root", h.root),
        ("sync_map.hash_trie.key_hash", "keyHash", h.key_hash),
        ("sync_map.hash_trie.val_equal", "valEqual", h.val_equal),
        ("sync_map.hash_trie.seed", "seed", h.seed),
    ];
    for (what, name, v) in members {
        c.member(what, ht, name, v);
    }
    c.member(
        "sync_map.hash_trie.node_is_entry",
        &node,
        "isEntry",
        h.node_is_entry,
    );

    let i = &h.indirect;
    c.size("sync_map.hash_trie.indirect.size", &ind, i.size);
    let members = [
        ("sync_map.hash_trie.indirect.node", "node", i.node),
        ("sync_map.hash_trie.indirect.dead", "dead", i.dead),
        ("sync_map.hash_trie.indirect.mu", "mu", i.mu),
        ("sync_map.hash_trie.indirect.parent", "parent", i.parent),
        (
            "sync_map.hash_trie.indirect.children",
            "children",
            i.children,
        ),
    ];
    for (what, name, v) in members {
        c.member(what, &ind, name, v);
    }
    c.constant(
        "sync_map.hash_trie.indirect.n_children_log2",
        &["internal/sync.nChildrenLog2"],
        i.n_children_log2 as i64,
    );
    c.constant(
        "sync_map.hash_trie.indirect.n_children",
        &["internal/sync.nChildren"],
        i.n_children as i64,
    );
    // children must really be n_children pointers.
    c.eq(
        "sync_map.hash_trie.indirect.children",
        i.children + 8 * i.n_children,
        i.size,
        "indirect size (children is the last field)",
    );

    let e = &h.entry;
    c.size("sync_map.hash_trie.entry.size", &ent, e.size);
    let members = [
        ("sync_map.hash_trie.entry.node", "node", e.node),
        ("sync_map.hash_trie.entry.overflow", "overflow", e.overflow),
        ("sync_map.hash_trie.entry.key", "key", e.key),
        ("sync_map.hash_trie.entry.value", "value", e.value),
    ];
    for (what, name, v) in members {
        c.member(what, &ent, name, v);
    }
}
