//! Where `runtime.allgs` (the `[]*g` of every goroutine ever created) is,
//! as a link-time address.
//!
//! Two independent ways, so that stripped binaries work too:
//! - `.symtab`: the data symbol, exact;
//! - code: `runtime.allgadd` does `allgs = append(allgs, gp)`, which the
//!   compiler turns into RIP-relative loads and stores of all three words
//!   of the slice header (`allgs`, `allgs+8`, `allgs+16`; see
//!   `go tool objdump -s runtime.allgadd`). An address A with A, A+8 and
//!   A+16 all referenced is the header. Other functions that only iterate
//!   the slice (`forEachG`, `checkdead`) reference just ptr and len, so
//!   they give weaker (A, A+8) candidates, used only if `allgadd` fails.
//!
//! Candidates from code are not trusted blindly: the caller validates them
//! against live memory (see `super::read_allgs_header`).

use std::collections::BTreeSet;

use iced_x86::{Decoder, DecoderOptions, Instruction};
use object::elf;
use object::read::elf::{FileHeader, Sym};
use object::Endianness;

use crate::tracee::gobin::GoBinary;

/// How an address was found (for messages and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Symtab,
    /// Three slice-header words referenced from this function.
    Code(&'static str),
}

/// Functions that append to `allgs` (all three header words referenced).
const APPENDERS: [&str; 1] = ["runtime.allgadd"];
/// Functions that read `allgs` (ptr and len referenced).
const READERS: [&str; 4] = [
    "runtime.forEachG",
    "runtime.forEachGRace",
    "runtime.checkdead",
    "runtime.allGsSnapshot",
];
/// Go functions are small; this bounds the work on a corrupt table.
const MAX_FUNC_BYTES: u64 = 64 * 1024;

/// Link-time address of a symbol in `.symtab`, if the file has one.
/// `exe` is the whole ELF file.
pub fn symtab_address(exe: &[u8], name: &str) -> Option<u64> {
    let hdr = elf::FileHeader64::<Endianness>::parse(exe).ok()?;
    let endian = hdr.endian().ok()?;
    let sections = hdr.sections(endian, exe).ok()?;
    let symtab = sections.symbols(endian, exe, elf::SHT_SYMTAB).ok()?;
    symtab.iter().find_map(|sym| {
        let n = symtab.symbol_name(endian, sym).ok()?;
        // Data objects only: never a function or section symbol.
        (n == name.as_bytes() && sym.st_type() == elf::STT_OBJECT).then(|| sym.st_value(endian))
    })
}

/// Whether the file has section headers with a non-empty `.symtab`.
#[cfg(test)]
pub fn has_symtab(exe: &[u8]) -> bool {
    use object::read::elf::SectionHeader as _;
    let Ok(hdr) = elf::FileHeader64::<Endianness>::parse(exe) else {
        return false;
    };
    let Ok(endian) = hdr.endian() else {
        return false;
    };
    hdr.sections(endian, exe).is_ok_and(|s| {
        s.iter()
            .any(|sh| sh.sh_type(endian) == elf::SHT_SYMTAB && sh.sh_size(endian) > 0)
    })
}

/// Candidate link-time addresses of the `allgs` slice header found in the
/// runtime's code, best first (no duplicates).
pub fn allgs_candidates_from_code(bin: &GoBinary) -> Vec<(u64, Found)> {
    let mut out: Vec<(u64, Found)> = Vec::new();
    let mut push = |addr: u64, how: Found| {
        if !out.iter().any(|c| c.0 == addr) {
            out.push((addr, how));
        }
    };
    for name in APPENDERS {
        let refs = rip_targets(bin, name);
        for &a in &refs {
            if refs.contains(&(a + 8)) && refs.contains(&(a + 16)) {
                push(a, Found::Code(name));
            }
        }
    }
    for name in READERS {
        let refs = rip_targets(bin, name);
        for &a in &refs {
            if refs.contains(&(a + 8)) {
                push(a, Found::Code(name));
            }
        }
    }
    out
}

/// Every RIP-relative memory operand target (loads, stores, LEA) of the
/// function `name`, as link-time addresses. Empty if it is missing.
pub fn rip_targets(bin: &GoBinary, name: &str) -> BTreeSet<u64> {
    rip_targets_sized(bin, name, None)
}

/// [`rip_targets`] of operands `size` bytes wide only (e.g. 4 for a
/// `MOVL`, 8 for a `MOVQ`; `None`: any, LEA included).
pub fn rip_targets_sized(bin: &GoBinary, name: &str, size: Option<usize>) -> BTreeSet<u64> {
    let mut refs = BTreeSet::new();
    let Some(f) = bin.function(name) else {
        return refs;
    };
    let len = f.end.saturating_sub(f.entry).min(MAX_FUNC_BYTES);
    let Some(code) = bin.text_bytes(f.entry, len) else {
        return refs;
    };
    let mut dec = Decoder::with_ip(64, code, f.entry, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    while dec.can_decode() {
        dec.decode_out(&mut ins);
        if ins.is_invalid() {
            continue;
        }
        if ins.is_ip_rel_memory_operand() && size.is_none_or(|n| ins.memory_size().size() == n) {
            refs.insert(ins.ip_rel_memory_address());
        }
    }
    refs
}

/// RIP-relative operands (link-time addresses, `size` bytes wide if
/// given) that every one of the functions found has; none unless at least
/// two were found (one function's operands are too many to tell apart).
pub fn shared_operands(bin: &GoBinary, users: &[&str], size: Option<usize>) -> Vec<u64> {
    let sets: Vec<BTreeSet<u64>> = users
        .iter()
        .map(|name| rip_targets_sized(bin, name, size))
        .filter(|refs| !refs.is_empty())
        .collect();
    let Some((first, rest)) = sets.split_first() else {
        return Vec::new();
    };
    if rest.is_empty() {
        return Vec::new();
    }
    first
        .iter()
        .filter(|a| rest.iter().all(|s| s.contains(a)))
        .copied()
        .collect()
}
