//! The runtime's heap profile: `runtime.bucket`, `memRecord`,
//! `memRecordCycle`, `mProfCycleHolder`, the bucket type and stack bound
//! constants, and the globals a reader needs.

use crate::tracee::golayout::layout::Layout;
use crate::tracee::golayout::tests::checker::Checker;

pub fn check(c: &mut Checker<'_>, l: &Layout) {
    let h = &l.heap_profile;
    const BUCKET: &[&str] = &["runtime.bucket"];
    const RECORD: &[&str] = &["runtime.memRecord"];
    const CYCLE: &[&str] = &["runtime.memRecordCycle"];
    c.member(
        "heap_profile.bucket_allnext",
        BUCKET,
        "allnext",
        h.bucket_allnext,
    );
    c.member("heap_profile.bucket_typ", BUCKET, "typ", h.bucket_typ);
    c.member_size("heap_profile.bucket_typ", BUCKET, "typ", 8);
    c.member("heap_profile.bucket_size", BUCKET, "size", h.bucket_size);
    c.member("heap_profile.bucket_nstk", BUCKET, "nstk", h.bucket_nstk);
    c.size("heap_profile.bucket_header", BUCKET, h.bucket_header);
    c.constant(
        "heap_profile.mem_profile",
        &["runtime.memProfile"],
        h.mem_profile as i64,
    );
    c.constant(
        "heap_profile.max_stack",
        &["runtime.maxProfStackDepth", "runtime.maxStack"],
        h.max_stack as i64,
    );
    c.member(
        "heap_profile.record_active",
        RECORD,
        "active",
        h.record_active,
    );
    c.member(
        "heap_profile.record_future",
        RECORD,
        "future",
        h.record_future,
    );
    c.member_size(
        "heap_profile.futures",
        RECORD,
        "future",
        h.futures * h.cycle_size,
    );
    c.size("heap_profile.cycle_size", CYCLE, h.cycle_size);
    c.member("heap_profile.cycle_allocs", CYCLE, "allocs", h.cycle_allocs);
    c.member("heap_profile.cycle_frees", CYCLE, "frees", h.cycle_frees);
    c.member(
        "heap_profile.cycle_holder_value",
        &["runtime.mProfCycleHolder"],
        "value",
        h.cycle_holder_value,
    );
    let s = &h.symbols;
    c.var(
        "heap_profile.symbols.mem_profile_rate",
        s.mem_profile_rate,
        "int",
    );
    c.var(
        "heap_profile.symbols.mprof_cycle",
        s.mprof_cycle,
        "runtime.mProfCycleHolder",
    );
}
