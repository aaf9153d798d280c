//! `sync.Map` layouts: the read/dirty implementation (Go ≤ 1.23) and the
//! hash-trie one (Go ≥ 1.24).

use serde::Serialize;

/// `sync.Map`; exactly one of `read_dirty` / `hash_trie` is set, matching
/// [`super::SyncMapImpl`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SyncMapLayout {
    /// `unsafe.Sizeof(sync.Map{})`.
    pub size: u64,
    pub read_dirty: Option<ReadDirtyLayout>,
    pub hash_trie: Option<HashTrieLayout>,
}

/// `sync.Map` of `sync/map.go`, Go 1.21–1.23.
///
/// Deleting a key only sets its `entry.p` to nil (later to the `expunged`
/// sentinel); it stays in `read.m` until the dirty map is promoted, so live
/// entries are those with `p` neither nil nor `*expunged_symbol`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ReadDirtyLayout {
    /// `mu` (`sync.Mutex`).
    pub mu: u64,
    /// `read` (`atomic.Pointer[readOnly]`; the pointer is at offset 0 of it).
    pub read: u64,
    /// `dirty` (`map[any]*entry`, a map header pointer).
    pub dirty: u64,
    /// `misses` (int).
    pub misses: u64,
    /// `unsafe.Sizeof(sync.readOnly{})`.
    pub read_only_size: u64,
    /// `readOnly.m` (`map[any]*entry`).
    pub read_only_m: u64,
    /// `readOnly.amended` (bool): dirty holds keys not in m.
    pub read_only_amended: u64,
    /// `entry.p` (`atomic.Pointer[any]`): nil = deleted, `expunged` = deleted and not in dirty.
    pub entry_p: u64,
    /// Symbol of the `expunged` sentinel (`var expunged = new(any)`): compare
    /// `entry.p` with the value stored in this variable.
    pub expunged_symbol: &'static str,
}

/// `sync.Map` of Go ≥ 1.24: a wrapper around `internal/sync.HashTrieMap[any, any]`
/// (`internal/sync/hashtriemap.go`). Deletes unlink entries (no tombstones).
///
/// Walk: `root` → `indirect`; each of its `n_children` slots is nil, an
/// `indirect` or an `entry` (both start with `node.isEntry`); an entry's
/// `overflow` chains entries with colliding hashes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HashTrieLayout {
    /// Offset of the `HashTrieMap` inside `sync.Map` (field `m`).
    pub m: u64,
    /// `unsafe.Sizeof(HashTrieMap[any, any]{})`.
    pub size: u64,
    /// `inited` (`atomic.Uint32`): 0 until first use, `root` is nil until then.
    pub inited: u64,
    /// `initMu` (`internal/sync.Mutex`).
    pub init_mu: u64,
    /// `root` (`atomic.Pointer[indirect]`).
    pub root: u64,
    /// `keyHash` (func value).
    pub key_hash: u64,
    /// `valEqual` (func value).
    pub val_equal: u64,
    /// `seed` (uintptr).
    pub seed: u64,
    /// `node.isEntry` (bool), at this offset in both `indirect` and `entry`.
    pub node_is_entry: u64,
    pub indirect: HashTrieIndirectLayout,
    pub entry: HashTrieEntryLayout,
}

/// `internal/sync.indirect[any, any]`: an inner trie node.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HashTrieIndirectLayout {
    pub size: u64,
    /// `node` (embedded `node[K, V]`).
    pub node: u64,
    /// `dead` (`atomic.Bool`).
    pub dead: u64,
    /// `mu` (`internal/sync.Mutex`).
    pub mu: u64,
    /// `parent` (`*indirect`).
    pub parent: u64,
    /// `children` (`[n_children]atomic.Pointer[node]`, 8 bytes each).
    pub children: u64,
    /// `nChildrenLog2`: hash bits consumed per level, from the top bits down.
    pub n_children_log2: u64,
    /// `nChildren`.
    pub n_children: u64,
}

/// `internal/sync.entry[any, any]`: a leaf holding one key/value pair.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HashTrieEntryLayout {
    pub size: u64,
    /// `node` (embedded `node[K, V]`).
    pub node: u64,
    /// `overflow` (`atomic.Pointer[entry]`): next entry with the same hash.
    pub overflow: u64,
    /// `key` (`any`: type pointer, data pointer).
    pub key: u64,
    /// `value` (`any`).
    pub value: u64,
}
