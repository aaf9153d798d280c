//! testdata/go/madvise under GODEBUG=madvdontneed=0 and =1, with every Go
//! toolchain: the program's own numbers (MemStats, its smaps_rollup) must
//! show the documented behaviour, our reader must agree with them, and the
//! finding must fire only for MADV_FREE. This is the ground truth the BPF
//! madvise probe is compared to.

use super::{madv_free_finding, read_smaps_rollup};
use crate::tracee::goroutines::tests::harness::{self, Flavour, GoChild};

const MIB: u64 = 1 << 20;

fn u(v: &serde_json::Value, path: &[&str]) -> u64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_u64()
        .unwrap_or_else(|| panic!("{path:?} missing in {v}"))
}

#[test]
fn madvise_ground_truth() {
    for go in harness::toolchains() {
        let version = harness::go_version(&go);
        let exe = harness::build(&go, "madvise", Flavour::Default);
        for dontneed in ["0", "1"] {
            let what = format!("{version} GODEBUG=madvdontneed={dontneed}");
            let godebug = format!("madvdontneed={dontneed}");
            let mut child = GoChild::spawn(&exe, &[("GODEBUG", &godebug)]);
            assert_eq!(child.line(), format!("READY {}", child.pid()), "{what}");
            let _ = child.json();
            child.send("free");
            let r = child.json();
            let heap = u(&r, &["heap_bytes"]);
            let released = u(&r, &["heap_released_delta"]);
            let (rss0, rss1) = (u(&r, &["before", "rss"]), u(&r, &["after", "rss"]));
            let (lazy0, lazy1) = (
                u(&r, &["before", "lazy_free"]),
                u(&r, &["after", "lazy_free"]),
            );
            // Our reader, from outside, right after the program's own read
            // (the program is idle now, so the numbers must agree closely).
            let ours = read_smaps_rollup(child.pid()).expect("smaps_rollup");
            eprintln!(
                "{what}: released {} MiB; RSS {} → {} MiB, LazyFree {} → {} MiB; \
                 ours: RSS {} MiB, LazyFree {} MiB",
                released / MIB,
                rss0 / MIB,
                rss1 / MIB,
                lazy0 / MIB,
                lazy1 / MIB,
                ours.rss / MIB,
                ours.lazy_free / MIB
            );

            assert!(rss0 >= heap, "{what}: heap not resident before");
            assert!(lazy0 < 16 * MIB, "{what}: LazyFree before free");
            assert!(
                released >= heap - 16 * MIB,
                "{what}: FreeOSMemory released too little"
            );
            assert!(
                ours.rss.abs_diff(rss1) < 16 * MIB,
                "{what}: our RSS vs the program's"
            );
            assert!(
                ours.lazy_free.abs_diff(lazy1) < 16 * MIB,
                "{what}: our LazyFree"
            );
            if dontneed == "0" {
                // MADV_FREE: released pages stay resident as LazyFree (no
                // memory pressure on a test machine reclaims them this fast).
                assert!(lazy1 >= heap - 32 * MIB, "{what}: LazyFree after free");
                assert!(rss1 >= heap, "{what}: RSS should stay high");
                let msg = madv_free_finding(&ours, released, 0)
                    .unwrap_or_else(|| panic!("{what}: no finding for {ours:?}"));
                assert!(msg.contains("GODEBUG=madvdontneed=1"), "{msg}");
            } else {
                // MADV_DONTNEED: RSS drops at once, nothing lazily freed.
                assert!(lazy1 < 16 * MIB, "{what}: LazyFree after free");
                assert!(rss1 + heap - 32 * MIB <= rss0, "{what}: RSS did not drop");
                assert_eq!(madv_free_finding(&ours, 0, released), None, "{what}");
                // Even if a probe had misattributed the calls: no LazyFree,
                // no finding.
                assert_eq!(madv_free_finding(&ours, released, 0), None, "{what}");
            }
        }
    }
}
