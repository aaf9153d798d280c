//! Finding `runtime.firstmoduledata` in binaries without `.symtab`, for the
//! two values the pclntab does not give us: `text` (the base of function
//! entry offsets; the pcHeader copy is 0 since go1.26) and `gofunc` (the
//! base of funcdata offsets, needed for the inline tree).
//!
//! moduledata layout, from `type moduledata struct` in `runtime/symtab.go`
//! of go1.21.13, go1.22.10, go1.23.9, go1.24.11, go1.25.5, go1.26.6 and
//! go1.27.3 (word = 8 bytes, a slice is 3 words):
//!
//! | word | field (all versions)                     |
//! |------|------------------------------------------|
//! | 0    | pcHeader                                 |
//! | 1–3  | funcnametab                              |
//! | 4–6  | cutab                                    |
//! | 7–9  | filetab                                  |
//! | 10–12| pctab                                    |
//! | 13–15| pclntable                                |
//! | 16–18| ftab (len = nfunc + 1)                   |
//! | 19   | findfunctab                              |
//! | 20,21| minpc, maxpc                             |
//! | 22,23| text, etext                              |
//!
//! After `end, gcdata, gcbss` (words 34–36) the versions differ:
//! - go1.21 … go1.26: `types, etypes, rodata, gofunc` → gofunc is word 40
//!   (byte 320);
//! - go1.27: `types, typedesclen, etypes, itaboffset, itabsize, rodata,
//!   gofunc` → gofunc is word 43 (byte 344).
//!
//! In every version `rodata` is the word just before `gofunc`, and the
//! go:func.* data lies at or after the start of rodata; that is how an
//! unknown (newer) layout is validated.

use super::elf::ElfImage;
use super::pclntab::Header;

const W_FUNCNAMETAB: u64 = 1;
const W_CUTAB: u64 = 4;
const W_FILETAB: u64 = 7;
const W_PCTAB: u64 = 10;
const W_PCLNTABLE: u64 = 13;
const W_FTAB: u64 = 16;
const W_FTAB_LEN: u64 = 17;
const W_TEXT: u64 = 22;
const W_ETEXT: u64 = 23;

/// Candidate word indexes of `gofunc` for a Go minor version, most likely
/// first (see the table above).
fn gofunc_words(minor: Option<u32>) -> &'static [u64] {
    match minor {
        Some(m) if m <= 26 => &[40],
        Some(27) => &[43],
        // Unknown or newer: try the newest layout first, then the older one.
        _ => &[43, 40],
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleData {
    pub addr: u64,
    pub text: u64,
    pub etext: u64,
    /// `None` if the layout of this Go version is not known well enough.
    pub gofunc: Option<u64>,
}

/// What a moduledata must agree with.
pub struct Expect<'a> {
    pub pcln_vaddr: u64,
    pub hdr: &'a Header,
    pub go_minor: Option<u32>,
}

/// Locates and validates the moduledata: first at `runtime.firstmoduledata`
/// if the symbol is known, then by scanning writable segments for a word
/// equal to the pclntab address (its first field), then through RELATIVE
/// relocations with that addend (for loaders-fill-in PIE data).
pub fn find(img: &ElfImage, data: &[u8], want: &Expect<'_>) -> Option<ModuleData> {
    if let Some(md) = img
        .syms
        .firstmoduledata
        .and_then(|a| validate(img, data, a, want))
    {
        return Some(md);
    }
    for seg in img.segments.iter().filter(|s| s.is_writable()) {
        let Some(bytes) = img.bytes_at(data, seg.vaddr, seg.filesz) else {
            continue;
        };
        // Scan 8-byte aligned virtual addresses.
        let skip = ((8 - seg.vaddr % 8) % 8) as usize;
        let needle = want.pcln_vaddr.to_le_bytes();
        let Some(aligned) = bytes.get(skip..) else {
            continue;
        };
        for (i, w) in aligned.as_chunks::<8>().0.iter().enumerate() {
            if *w != needle {
                continue;
            }
            let addr = seg.vaddr.checked_add(skip as u64 + 8 * i as u64);
            if let Some(md) = addr.and_then(|a| validate(img, data, a, want)) {
                return Some(md);
            }
        }
    }
    img.relative_relocs
        .iter()
        .filter(|r| r.1 == want.pcln_vaddr)
        .find_map(|r| validate(img, data, r.0, want))
}

fn validate(img: &ElfImage, data: &[u8], addr: u64, want: &Expect<'_>) -> Option<ModuleData> {
    let word = |i: u64| img.read_ptr(data, addr.checked_add(i * 8)?);
    let base = want.pcln_vaddr;
    let at = |off: usize| base.checked_add(off as u64);
    let h = want.hdr;
    let checks = [
        (0, Some(base)),
        (W_FUNCNAMETAB, at(h.funcname_off)),
        (W_CUTAB, at(h.cu_off)),
        (W_FILETAB, at(h.filetab_off)),
        (W_PCTAB, at(h.pctab_off)),
        (W_PCLNTABLE, at(h.pcln_off)),
        (W_FTAB, at(h.pcln_off)),
        (W_FTAB_LEN, (h.nfunc as u64).checked_add(1)),
    ];
    if !checks.iter().all(|&(i, v)| v.is_some() && word(i) == v) {
        return None;
    }
    let text = word(W_TEXT)?;
    let etext = word(W_ETEXT)?;
    if text == 0 || etext <= text {
        return None;
    }
    let gofunc = gofunc_words(want.go_minor).iter().find_map(|&i| {
        let g = word(i)?;
        let rodata = word(i - 1)?;
        (g != 0 && g >= rodata && img.vaddr_to_offset(g).is_some()).then_some(g)
    });
    Some(ModuleData {
        addr,
        text,
        etext,
        gofunc,
    })
}
