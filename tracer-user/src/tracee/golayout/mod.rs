//! Go runtime memory layouts, one table per Go version (linux/amd64, Go 1.21–1.27).
//!
//! Everything the tracer reads out of a Go process — `runtime.g` fields, map
//! headers, `sync.Map` internals, probe argument registers, wait-reason
//! numbers — is data here, looked up once by the detected Go version and then
//! handed to the BPF programs and the userspace memory reader. No other code
//! should branch on the Go version to find an offset.
//!
//! Layout of this module (after py-spy/rbspy: one file per version range, one
//! `match` on the version):
//! - `layout.rs`, `maps.rs`, `syncmap.rs`, `abi.rs`, `wait_reason.rs`,
//!   `heapstats.rs` (allocation counters), `heapprof.rs` (the runtime's heap
//!   profile): the types of the table;
//! - `go121.rs` (1.21–1.22), `go123.rs` (1.23), `go124.rs` (1.24),
//!   `go125.rs` (1.25), `go126.rs` (1.26–1.27): the numbers, split where a
//!   layout changes. Each file starts from the previous version's table
//!   (`..GO123`), so what is written there is what changed (also summed up
//!   in its header);
//! - `describe.rs`: flat `(name, value)` listing for `tracer inspect`;
//! - `tests/`: builds `testdata/go/layout_fixture` with every installed Go
//!   toolchain and checks each number against the binary's DWARF and the
//!   toolchain's runtime sources: a wrong number fails `cargo test`.
//!
//! The tables describe the *default* build of each toolchain. A binary built
//! with `GOEXPERIMENT=noswissmap` or `nosynchashtriemap` (possible on 1.24 and
//! 1.25 only) uses the classic map / read-dirty `sync.Map` instead, and the
//! `map_impl` / `sync_map_impl` of its table are then wrong.

// The table is data for BPF loaders and memory readers that are wired in
// separately; until every field has a Rust reader, unread fields are expected.
#![allow(dead_code)]

mod abi;
mod describe;
mod experiments;
mod go121;
mod go123;
mod go124;
mod go125;
mod go126;
mod heapprof;
mod heapstats;
mod layout;
mod maps;
mod pacer;
mod syncmap;
mod wait_reason;

#[cfg(test)]
mod tests;

// The public API: callers name only some of these types so far.
#[allow(unused_imports)]
pub use abi::{AbiInfo, MakemapArgs, MallocgcArgs, MapAccessArgs, Newproc1Args, Reg};
#[allow(unused_imports)]
pub use experiments::{frees_outside_sweeper, map_impl, sync_map_impl};
pub use heapprof::HeapProfileLayout;
pub use heapstats::{
    AllocLargeArgs, AllocStatsLayout, AllocStatsSymbols, HeapStatsLayout, McacheLayout,
    MheapLayout, MspanLayout, RefillArgs,
};
#[allow(unused_imports)]
pub use layout::{AllgsInfo, GLayout, GStatus, Layout, MapImpl, SyncMapImpl};
#[allow(unused_imports)]
pub use maps::{
    BucketLayout, ClassicMapTypeLayout, HmapLayout, SwissGroupLayout, SwissLayout,
    SwissMapHeaderLayout, SwissMapTypeLayout, SwissTableLayout,
};
pub use pacer::{PacerLayout, PacerSymbols};
#[allow(unused_imports)]
pub use syncmap::{
    HashTrieEntryLayout, HashTrieIndirectLayout, HashTrieLayout, ReadDirtyLayout, SyncMapLayout,
};
#[allow(unused_imports)]
pub use wait_reason::WaitReasons;

/// Oldest and newest Go minor version (of Go 1) with a table.
pub const SUPPORTED_MINORS: std::ops::RangeInclusive<u32> = 21..=27;

/// The layouts of Go `major.minor` (patch releases never change them), or
/// `None` outside Go 1.21–1.27.
pub fn layout_for(major: u32, minor: u32) -> Option<&'static Layout> {
    match (major, minor) {
        (1, 21) => Some(&go121::GO121),
        (1, 22) => Some(&go121::GO122),
        (1, 23) => Some(&go123::GO123),
        (1, 24) => Some(&go124::GO124),
        (1, 25) => Some(&go125::GO125),
        (1, 26) => Some(&go126::GO126),
        (1, 27) => Some(&go126::GO127),
        _ => None,
    }
}
