//! Which map and sync.Map implementation a binary was built with: the
//! version's default, unless a GOEXPERIMENT in its build info says
//! otherwise; and whether an experiment frees heap objects outside the
//! sweeper.
use crate::{
    tracee::gobin::GoBinary,
    tracee::golayout::{Layout, MapImpl, SyncMapImpl},
};

/// GOEXPERIMENT experiments named in the build info (`-x` disables x).
fn experiment(bin: &GoBinary, name: &str) -> Option<bool> {
    let exps = bin
        .build_info()
        .settings
        .iter()
        .find(|(k, _)| k == "GOEXPERIMENT")?
        .1
        .clone();
    exps.split(',').find_map(|e| match e.strip_prefix("no") {
        Some(rest) if rest == name => Some(false),
        _ if e == name => Some(true),
        _ => None,
    })
}

/// The map implementation, honouring GOEXPERIMENT=noswissmap (Go 1.24/1.25).
pub fn map_impl(l: &Layout, bin: &GoBinary) -> MapImpl {
    match experiment(bin, "swissmap") {
        Some(true) => MapImpl::Swiss,
        Some(false) => MapImpl::Classic,
        None => l.map_impl,
    }
}

/// The sync.Map implementation, honouring GOEXPERIMENT=nosynchashtriemap.
pub fn sync_map_impl(l: &Layout, bin: &GoBinary) -> SyncMapImpl {
    match experiment(bin, "synchashtriemap") {
        Some(true) => SyncMapImpl::HashTrie,
        Some(false) => SyncMapImpl::ReadDirty,
        None => l.sync_map_impl,
    }
}

/// A GOEXPERIMENT that frees heap objects outside the GC's sweeper
/// (`runtimefreegc`: explicit frees in the runtime, Go 1.26+; `arenas`:
/// user arenas freed at once), under which a slot's `allocBits` no longer
/// says whether a sampled object lived.
pub fn frees_outside_sweeper(bin: &GoBinary) -> Option<&'static str> {
    ["runtimefreegc", "arenas"]
        .into_iter()
        .find(|e| experiment(bin, e) == Some(true))
}
