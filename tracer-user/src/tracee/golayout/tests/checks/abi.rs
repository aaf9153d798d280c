//! Argument registers: the ABI register order and g register from the
//! compiler sources, and each probed argument's register derived from the
//! DWARF parameter list of its function.

use std::collections::HashMap;
use std::path::Path;

use crate::tracee::golayout::abi::Reg;
use crate::tracee::golayout::layout::Layout;
use crate::tracee::golayout::tests::checker::Checker;
use crate::tracee::golayout::tests::source;

/// Register of each input parameter of `func` by the ABIInternal rule
/// (one register per word, in `int_regs` order), keyed by parameter name.
pub(super) fn param_regs(
    c: &mut Checker<'_>,
    what: &str,
    func: &str,
    int_regs: &[Reg],
) -> Option<HashMap<String, Reg>> {
    let Some(params) = c.dwarf.funcs.get(func) else {
        c.fail(what, format!("no function {func} in DWARF"));
        return None;
    };
    let mut out = HashMap::new();
    let mut next = 0usize;
    for p in params.iter().filter(|p| !p.is_result) {
        // Only one- and two-word integer arguments occur in the probed
        // functions; anything else would need the full ABI algorithm.
        let words = match p.size {
            Some(1..=8) => 1,
            Some(16) => 2,
            other => {
                c.fail(
                    what,
                    format!("{func} parameter {} has unsupported size {other:?}", p.name),
                );
                return None;
            }
        };
        let Some(&reg) = int_regs.get(next) else {
            c.fail(
                what,
                format!("{func} parameter {} is passed on the stack", p.name),
            );
            return None;
        };
        out.insert(p.name.clone(), reg);
        next += words;
    }
    Some(out)
}

/// A register as the Go compiler names it ("AX", "R8", ...).
fn compiler_reg(name: &str) -> Option<Reg> {
    Some(match name {
        "AX" => Reg::Rax,
        "BX" => Reg::Rbx,
        "CX" => Reg::Rcx,
        "DI" => Reg::Rdi,
        "SI" => Reg::Rsi,
        "R8" => Reg::R8,
        "R9" => Reg::R9,
        "R10" => Reg::R10,
        "R11" => Reg::R11,
        "R14" => Reg::R14,
        _ => return None,
    })
}

pub fn check(c: &mut Checker<'_>, l: &Layout, src: &Path) {
    let abi = &l.abi;
    // The registers arguments are derived from come from the compiler's
    // tables, not from the table under test.
    let regs: Vec<Reg> = match source::int_param_regs(src) {
        Ok(names) => {
            let truth: Vec<Option<Reg>> = names.iter().map(|n| compiler_reg(n)).collect();
            let table: Vec<Option<Reg>> = abi.int_arg_regs.iter().copied().map(Some).collect();
            c.eq(
                "abi.int_arg_regs",
                table,
                truth.clone(),
                "cmd/compile/internal/ssa/opGen.go paramIntRegAMD64",
            );
            truth.into_iter().map_while(|r| r).collect()
        }
        Err(e) => return c.fail("abi.int_arg_regs", e),
    };
    match source::g_register(src) {
        Ok(r) => c.eq(
            "abi.g_reg",
            Some(abi.g_reg),
            compiler_reg(&r),
            "cmd/internal/obj/x86/a.out.go REGG",
        ),
        Err(e) => c.fail("abi.g_reg", e),
    }

    // (table field, DWARF function, accepted parameter names, table register)
    let m = &abi.mallocgc;
    let mk = &abi.makemap;
    let ma = &abi.map_access;
    let np = &abi.newproc1;
    let mut checks: Vec<(&str, &str, &[&str], Option<Reg>)> = vec![
        (
            "abi.mallocgc.size",
            "runtime.mallocgc",
            &["size"],
            Some(m.size),
        ),
        (
            "abi.mallocgc.typ",
            "runtime.mallocgc",
            &["typ"],
            Some(m.typ),
        ),
        (
            "abi.mallocgc.needzero",
            "runtime.mallocgc",
            &["needzero"],
            Some(m.needzero),
        ),
        ("abi.makemap.t", "runtime.makemap", &["t"], Some(mk.t)),
        (
            "abi.makemap.hint",
            "runtime.makemap",
            &["hint"],
            Some(mk.hint),
        ),
        ("abi.makemap.m", "runtime.makemap", &["m", "h"], Some(mk.m)),
        (
            "abi.newproc1.fn_",
            "runtime.newproc1",
            &["fn"],
            Some(np.fn_),
        ),
        (
            "abi.newproc1.callergp",
            "runtime.newproc1",
            &["callergp"],
            Some(np.callergp),
        ),
        (
            "abi.newproc1.callerpc",
            "runtime.newproc1",
            &["callerpc"],
            Some(np.callerpc),
        ),
        (
            "abi.newproc1.parked",
            "runtime.newproc1",
            &["parked"],
            np.parked,
        ),
        (
            "abi.newproc1.waitreason",
            "runtime.newproc1",
            &["waitreason"],
            np.waitreason,
        ),
    ];
    for f in [
        "runtime.mapassign",
        "runtime.mapaccess1",
        "runtime.mapaccess2",
        "runtime.mapdelete",
    ] {
        checks.push(("abi.map_access.t", f, &["t", "typ"], Some(ma.t)));
        checks.push(("abi.map_access.m", f, &["m", "h"], Some(ma.m)));
        checks.push(("abi.map_access.key", f, &["key"], Some(ma.key)));
    }
    for (what, func, names, table) in checks {
        let Some(found) = param_regs(c, what, func, &regs) else {
            continue;
        };
        let actual = names.iter().find_map(|n| found.get(*n).copied());
        c.eq(
            what,
            table,
            actual,
            &format!("DWARF parameters of {func} {names:?}"),
        );
    }
}
