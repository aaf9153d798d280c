//! Process memory as the kernel accounts it, as ground truth for what the
//! Go runtime says it holds.
//!
//! Files: `smaps` (`/proc/PID/smaps_rollup`), `madvise` (the
//! `madv_free_rss` finding: RSS kept high by pages released with
//! MADV_FREE), `tests` (testdata/go/madvise under both GODEBUG settings).

// The session code that calls this is wired in separately.

mod madvise;
mod smaps;
#[cfg(test)]
mod tests;

// The public API: callers name only some of these so far.
#[allow(unused_imports)]
pub use madvise::{
    lazy_free_is_large, lazy_free_share_pct, madv_free_finding, release_advice, ReleaseCounter,
    LAZY_FREE_MIN_BYTES, LAZY_FREE_MIN_SHARE_PCT,
};
#[allow(unused_imports)]
pub use smaps::{parse_smaps_rollup, read_smaps_rollup, RollupPacer, SmapsRollup};
