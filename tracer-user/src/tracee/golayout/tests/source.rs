//! Facts that are in a toolchain's Go sources but not in the binary's DWARF:
//! wait reason strings, classic map flag bits, the register ABI, the size
//! class table.
//! Line scanners over gofmt-formatted code; they fail loudly on a shape
//! they do not recognise rather than guess.

use std::collections::HashMap;
use std::path::Path;

fn read(src: &Path, rel: &str) -> Result<String, String> {
    std::fs::read_to_string(src.join(rel)).map_err(|e| format!("read $GOROOT/src/{rel}: {e}"))
}

/// Lines after the first line starting with `start` (ignoring indentation
/// and a trailing comment), up to the first line equal (trimmed) to `end`.
fn block<'a>(text: &'a str, start: &str, end: &str) -> Option<Vec<&'a str>> {
    let mut lines = text.lines().skip_while(|l| !l.trim().starts_with(start));
    lines.next()?;
    Some(lines.take_while(|l| l.trim() != end).collect())
}

/// The `waitReason` constants of `runtime/runtime2.go` in iota order (the
/// index is the value).
pub fn wait_reason_consts(src: &Path) -> Result<Vec<String>, String> {
    let text = read(src, "runtime/runtime2.go")?;
    let body: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim() != "type waitReason uint8")
        .skip_while(|l| l.trim() != "const (")
        .skip(1)
        .take_while(|l| l.trim() != ")")
        .collect();
    let mut names = Vec::new();
    for line in body {
        let code = line.split("//").next().unwrap_or_default().trim();
        if code.is_empty() {
            continue;
        }
        let mut words = code.split_whitespace();
        let name = words.next().unwrap_or_default();
        let rest: Vec<&str> = words.collect();
        // Only `waitReasonZero waitReason = iota` and bare names are
        // understood; anything else would make the index wrong.
        let ok = if names.is_empty() {
            rest == ["waitReason", "=", "iota"]
        } else {
            rest.is_empty()
        };
        if !ok || !name.starts_with("waitReason") {
            return Err(format!("runtime2.go: unexpected waitReason line {line:?}"));
        }
        names.push(name.to_string());
    }
    if names.is_empty() {
        return Err("runtime2.go: no waitReason const block".into());
    }
    Ok(names)
}

/// `waitReasonStrings` of `runtime/runtime2.go`: constant name → string.
pub fn wait_reason_strings(src: &Path) -> Result<HashMap<String, String>, String> {
    let text = read(src, "runtime/runtime2.go")?;
    let body = block(&text, "var waitReasonStrings = [...]string{", "}")
        .ok_or("runtime2.go: no waitReasonStrings")?;
    let mut out = HashMap::new();
    for line in body {
        let (name, lit) = line
            .split_once(':')
            .ok_or_else(|| format!("runtime2.go: unexpected waitReasonStrings line {line:?}"))?;
        let lit = lit.trim().trim_end_matches(',');
        let s = lit
            .strip_prefix('"')
            .and_then(|l| l.strip_suffix('"'))
            .filter(|s| !s.contains('\\'))
            .ok_or_else(|| format!("runtime2.go: unexpected string {lit:?}"))?;
        out.insert(name.trim().to_string(), s.to_string());
    }
    Ok(out)
}

/// Bit tested by `func (mt *MapType) <method>() bool { return mt.Flags&N != 0 }`
/// in `internal/abi/type.go` (classic maps; no named constants there).
pub fn classic_map_flag(src: &Path, method: &str) -> Result<u32, String> {
    let text = read(src, "internal/abi/type.go")?;
    let head = format!("func (mt *MapType) {method}() bool {{");
    let body = block(&text, &head, "}").ok_or_else(|| format!("type.go: no {head}"))?;
    body.iter()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("return mt.Flags&")?;
            rest.strip_suffix(" != 0")?.parse().ok()
        })
        .ok_or_else(|| format!("type.go: unexpected body of MapType.{method}"))
}

/// Integer argument registers in order, as names ("AX", "BX", ...), from the
/// compiler's generated tables (`cmd/compile/internal/ssa/opGen.go`:
/// `paramIntRegAMD64` indexes `registersAMD64`).
pub fn int_param_regs(src: &Path) -> Result<Vec<String>, String> {
    let text = read(src, "cmd/compile/internal/ssa/opGen.go")?;
    let regs = block(&text, "var registersAMD64 = [...]Register{", "}")
        .ok_or("opGen.go: no registersAMD64")?;
    let mut names: HashMap<u32, String> = HashMap::new();
    for l in regs {
        // `{0, x86.REG_AX, 0, "AX"},` (1.21) or `{0, x86.REG_AX, "AX"},`.
        let fields: Vec<&str> = l.trim().trim_matches(['{', '}', ',']).split(", ").collect();
        let (Some(num), Some(name)) = (fields.first(), fields.last()) else {
            continue;
        };
        if let Ok(n) = num.parse() {
            names.insert(n, name.trim_matches('"').to_string());
        }
    }
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("var paramIntRegAMD64 = []int8{"))
        .ok_or("opGen.go: no paramIntRegAMD64")?;
    line.trim_end_matches('}')
        .split(", ")
        .map(|n| {
            n.parse::<u32>()
                .ok()
                .and_then(|n| names.get(&n).cloned())
                .ok_or_else(|| format!("opGen.go: bad paramIntRegAMD64 entry {n:?}"))
        })
        .collect()
}

/// The register `REGG` (the g register of ABIInternal) is defined as, from
/// `cmd/internal/obj/x86/a.out.go` (e.g. "R14").
pub fn g_register(src: &Path) -> Result<String, String> {
    let text = read(src, "cmd/internal/obj/x86/a.out.go")?;
    text.lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("REGG")?;
            let value = rest.trim_start().strip_prefix('=')?;
            let reg = value.split("//").next()?.trim().strip_prefix("REG_")?;
            Some(reg.to_string())
        })
        .ok_or_else(|| "a.out.go: no REGG definition".into())
}

/// The size class table (`class_to_size` in `runtime/sizeclasses.go` up to
/// 1.24, `SizeClassToSize` in `internal/runtime/gc/sizeclasses.go` from
/// 1.25), indexed by size class.
pub fn class_to_size(src: &Path) -> Result<Vec<u64>, String> {
    class_table(src, ("class_to_size", "SizeClassToSize"), "uint16")
}

/// Pages per span of each size class (`class_to_allocnpages` up to 1.24,
/// `SizeClassToNPages` from 1.25).
pub fn class_to_npages(src: &Path) -> Result<Vec<u64>, String> {
    class_table(src, ("class_to_allocnpages", "SizeClassToNPages"), "uint8")
}

/// One of sizeclasses.go's per-class tables, by its (old, new) names.
fn class_table(src: &Path, (old, new): (&str, &str), ty: &str) -> Result<Vec<u64>, String> {
    let candidates = [
        (
            "internal/runtime/gc/sizeclasses.go",
            format!("var {new} = [NumSizeClasses]{ty}{{"),
        ),
        (
            "runtime/sizeclasses.go",
            format!("var {old} = [_NumSizeClasses]{ty}{{"),
        ),
    ];
    for (rel, head) in candidates {
        let Ok(text) = read(src, rel) else { continue };
        let Some(rest) = text.lines().find_map(|l| l.strip_prefix(head.as_str())) else {
            continue;
        };
        let body = rest
            .strip_suffix('}')
            .ok_or_else(|| format!("{rel}: table not on one line"))?;
        return body
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .map_err(|e| format!("{rel}: bad entry {n:?}: {e}"))
            })
            .collect();
    }
    Err(format!("no size class table ({old} / {new})"))
}
