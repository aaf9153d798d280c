//! The GC count, the pacer's settings and the released-bytes counter.

use crate::tracee::golayout::layout::Layout;
use crate::tracee::golayout::tests::checker::Checker;

pub fn check(c: &mut Checker<'_>, l: &Layout) {
    let p = &l.pacer;
    const MSTATS: &[&str] = &["runtime.mstats"];
    const PACER: &[&str] = &["runtime.gcControllerState"];
    c.member("pacer.memstats_numgc", MSTATS, "numgc", p.memstats_numgc);
    c.member_size("pacer.memstats_numgc", MSTATS, "numgc", 4);
    c.member("pacer.gc_percent", PACER, "gcPercent", p.gc_percent);
    c.member_size("pacer.gc_percent", PACER, "gcPercent", 4);
    c.member("pacer.memory_limit", PACER, "memoryLimit", p.memory_limit);
    c.member_size("pacer.memory_limit", PACER, "memoryLimit", 8);
    c.member("pacer.heap_marked", PACER, "heapMarked", p.heap_marked);
    c.member_size("pacer.heap_marked", PACER, "heapMarked", 8);
    c.var(
        "pacer.symbols.gc_controller",
        p.symbols.gc_controller,
        "runtime.gcControllerState",
    );
}
