//! Wait reason numbers (DWARF constants) and names (`waitReasonStrings`).

use std::path::Path;

use crate::tracee::golayout::layout::Layout;
use crate::tracee::golayout::tests::checker::Checker;
use crate::tracee::golayout::tests::source;

pub fn check(c: &mut Checker<'_>, l: &Layout, src: &Path) {
    let w = &l.wait_reasons;
    for (go_name, v) in w.by_go_name() {
        c.opt_constant(
            &format!("wait_reasons ({go_name})"),
            &[&format!("runtime.{go_name}")],
            v.map(i64::from),
        );
    }
    let consts = match source::wait_reason_consts(src) {
        Ok(c) => c,
        Err(e) => return c.fail("wait_reasons.names", e),
    };
    let strings = match source::wait_reason_strings(src) {
        Ok(s) => s,
        Err(e) => return c.fail("wait_reasons.names", e),
    };
    // The source order must be what the compiler numbered (guards the parser).
    for (i, name) in consts.iter().enumerate() {
        c.constant(
            &format!("source iota order of {name}"),
            &[&format!("runtime.{name}")],
            i as i64,
        );
    }
    let dwarf_count = c
        .dwarf
        .consts
        .keys()
        .filter(|k| k.starts_with("runtime.waitReason"))
        .count();
    c.eq(
        "wait_reasons.names.len()",
        w.names.len(),
        dwarf_count,
        "DWARF runtime.waitReason* constants",
    );
    c.eq(
        "wait_reasons.names.len()",
        w.names.len(),
        consts.len(),
        "runtime/runtime2.go waitReason consts",
    );
    for (i, name) in consts.iter().enumerate() {
        let truth = strings.get(name).map(String::as_str);
        let what = format!("wait_reasons.names[{i}] ({name})");
        c.eq(
            &what,
            w.names.get(i).copied(),
            truth,
            "runtime/runtime2.go waitReasonStrings",
        );
    }
}
