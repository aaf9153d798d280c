//! Every number of a [`Layout`] against the fixture's DWARF and the
//! toolchain's sources, one file per part of the table. Each failure names
//! the table field by its Rust path so it says which number to fix.

mod abi;
mod alloc_stats;
mod heap_profile;
mod maps;
mod pacer;
mod sync_map;
mod wait_reasons;

use std::path::Path;

use super::checker::Checker;
use crate::tracee::golayout::layout::{GLayout, Layout};

pub fn check_layout(c: &mut Checker<'_>, l: &Layout, minor: u32, src: &Path) {
    c.eq("go_minor", l.go_minor, minor, "the toolchain");
    check_g(c, &l.g);
    maps::check(c, l, src);
    sync_map::check(c, l);
    check_allgs(c, l);
    abi::check(c, l, src);
    wait_reasons::check(c, l, src);
    alloc_stats::check(c, l, src);
    heap_profile::check(c, l);
    pacer::check(c, l);
    c.member(
        "type_ptrbytes",
        &["internal/abi.Type"],
        "PtrBytes",
        l.type_ptrbytes,
    );
}

fn check_g(c: &mut Checker<'_>, g: &GLayout) {
    const G: &[&str] = &["runtime.g"];
    const GOBUF: &[&str] = &["runtime.gobuf"];
    const STACK: &[&str] = &["runtime.stack"];
    c.size("g.size", G, g.size);
    c.member("g.stack", G, "stack", g.stack);
    c.member("g.stack_lo", STACK, "lo", g.stack_lo);
    c.member("g.stack_hi", STACK, "hi", g.stack_hi);
    c.member("g.stackguard0", G, "stackguard0", g.stackguard0);
    c.member("g.m", G, "m", g.m);
    c.member("g.sched", G, "sched", g.sched);
    c.size("g.gobuf_size", GOBUF, g.gobuf_size);
    c.member("g.gobuf_sp", GOBUF, "sp", g.gobuf_sp);
    c.member("g.gobuf_pc", GOBUF, "pc", g.gobuf_pc);
    c.member("g.gobuf_bp", GOBUF, "bp", g.gobuf_bp);
    c.member("g.atomicstatus", G, "atomicstatus", g.atomicstatus);
    c.member("g.goid", G, "goid", g.goid);
    c.member("g.waitreason", G, "waitreason", g.waitreason);
    c.member("g.parent_goid", G, "parentGoid", g.parent_goid);
    c.member("g.gopc", G, "gopc", g.gopc);
    c.member("g.startpc", G, "startpc", g.startpc);
    c.member("g.waiting", G, "waiting", g.waiting);

    let s = &g.status;
    let statuses = [
        ("g.status.idle", "runtime._Gidle", Some(s.idle)),
        ("g.status.runnable", "runtime._Grunnable", Some(s.runnable)),
        ("g.status.running", "runtime._Grunning", Some(s.running)),
        ("g.status.syscall", "runtime._Gsyscall", Some(s.syscall)),
        ("g.status.waiting", "runtime._Gwaiting", Some(s.waiting)),
        ("g.status.dead", "runtime._Gdead", Some(s.dead)),
        (
            "g.status.copystack",
            "runtime._Gcopystack",
            Some(s.copystack),
        ),
        (
            "g.status.preempted",
            "runtime._Gpreempted",
            Some(s.preempted),
        ),
        ("g.status.leaked", "runtime._Gleaked", s.leaked),
        ("g.status.deadextra", "runtime._Gdeadextra", s.deadextra),
        ("g.status.scan", "runtime._Gscan", Some(s.scan)),
    ];
    for (what, name, v) in statuses {
        c.opt_constant(what, &[name], v.map(i64::from));
    }
}

fn check_allgs(c: &mut Checker<'_>, l: &Layout) {
    let a = &l.allgs;
    const SLICE: &[&str] = &["[]*runtime.g"];
    c.var("allgs.allgs_symbol", a.allgs_symbol, "[]*runtime.g");
    c.var("allgs.allglen_symbol", a.allglen_symbol, "uintptr");
    c.var("allgs.allgptr_symbol", a.allgptr_symbol, "**runtime.g");
    c.member("allgs.slice_array", SLICE, "array", a.slice_array);
    c.member("allgs.slice_len", SLICE, "len", a.slice_len);
    c.member("allgs.slice_cap", SLICE, "cap", a.slice_cap);
    c.type_size("allgs.elem_size", "*runtime.g", a.elem_size);
}
