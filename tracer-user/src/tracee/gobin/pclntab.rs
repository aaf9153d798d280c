//! The Go 1.20+ `.gopclntab`: function table, names, files and pc-value
//! tables. Pure functions over `&[u8]` (the bytes from the pcHeader to the
//! end of the section/segment), so they can be fuzzed without an ELF file.
//!
//! Layouts verified against the go1.21.13 … go1.27.3 sources:
//! - `runtime/symtab.go` `pcHeader`: magic u32 (0xfffffff1 since go1.20),
//!   pad1, pad2, minLC, ptrSize (u8 each), then 8 words: nfunc, nfiles,
//!   textStart (always 0 since go1.26, "no longer stored"), funcnameOffset,
//!   cuOffset, filetabOffset, pctabOffset, pclnOffset; offsets are from
//!   the pcHeader.
//! - functab at pclnOffset: nfunc+1 `{entryoff u32, funcoff u32}` pairs,
//!   entryoff relative to the text start, funcoff relative to the functab.
//!   The extra last entry's entryoff is the end of the text.
//! - `runtime/runtime2.go` `_func`: entryOff u32, nameOff i32, args i32,
//!   deferreturn u32, pcsp, pcfile, pcln, npcdata, cuOffset u32,
//!   startLine i32, funcID u8, flag u8, pad u8, nfuncdata u8 (44 bytes), then
//!   `pcdata [npcdata]u32` (offsets into pctab) and
//!   `funcdata [nfuncdata]u32` (offsets from moduledata.gofunc, ^0 = none).
//! - `runtime.step`/`readvarint`: pc-value tables are pairs of
//!   (zigzag varint value delta, varint pc delta × minLC), start value -1,
//!   terminated by a zero value delta (except on the first pair).

use super::bytes::{self, cstr_at, i32_at, slice, u32_at, u64_at, u8_at, uvarint32};

pub const MAGIC_GO120: u32 = 0xffff_fff1;
/// Magics of older layouts (go1.2, go1.16, go1.18), recognised only to give a
/// precise "unsupported" error.
pub const MAGIC_OLD: [u32; 3] = [0xffff_fffb, 0xffff_fffa, 0xffff_fff0];

const HEADER_SIZE: usize = 8 + 8 * 8;
const FUNC_HEADER_SIZE: usize = 44;
const FUNCTAB_ENTRY_SIZE: usize = 8;

/// `internal/abi.PCDATA_InlTreeIndex`.
pub const PCDATA_INL_TREE_INDEX: u32 = 2;
/// `internal/abi.FUNCDATA_InlTree`.
pub const FUNCDATA_INL_TREE: u8 = 3;

#[derive(Debug, PartialEq, Eq)]
pub enum PclnError {
    /// Not a pclntab at all (wrong magic).
    BadMagic,
    /// A pclntab of a Go version older than 1.20.
    OldVersion(u32),
    /// Right magic but inconsistent contents.
    Corrupt(&'static str),
}

/// The decoded pcHeader, with offsets validated against the table length.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub min_lc: u8,
    pub nfunc: usize,
    /// Raw `textStart` word: the text address up to go1.25, 0 since go1.26.
    pub text_start: u64,
    pub funcname_off: usize,
    pub cu_off: usize,
    pub filetab_off: usize,
    pub pctab_off: usize,
    pub pcln_off: usize,
}

/// A validated view of a pclntab.
#[derive(Clone, Copy)]
pub struct Pclntab<'a> {
    data: &'a [u8],
    hdr: Header,
}

/// One `_func` record.
#[derive(Clone, Copy, Debug)]
pub struct Func<'a> {
    /// The record and everything after it (for the pcdata/funcdata arrays).
    raw: &'a [u8],
    pub entry_off: u32,
    pub name_off: i32,
    pub pcfile: u32,
    pub pcln: u32,
    pub npcdata: u32,
    pub cu_off: u32,
    pub nfuncdata: u8,
}

impl<'a> Func<'a> {
    /// Offset into pctab of pcdata table `i`; `None` if absent (0 = no table).
    pub fn pcdata(&self, i: u32) -> Option<u32> {
        if i >= self.npcdata {
            return None;
        }
        let off = FUNC_HEADER_SIZE.checked_add(usize::try_from(i).ok()?.checked_mul(4)?)?;
        u32_at(self.raw, off).filter(|&v| v != 0)
    }

    /// Offset from moduledata.gofunc of funcdata `i`; `None` if absent.
    pub fn funcdata(&self, i: u8) -> Option<u32> {
        if i >= self.nfuncdata {
            return None;
        }
        let npc = usize::try_from(self.npcdata).ok()?;
        let off = FUNC_HEADER_SIZE
            .checked_add(npc.checked_mul(4)?)?
            .checked_add(usize::from(i) * 4)?;
        u32_at(self.raw, off).filter(|&v| v != u32::MAX)
    }
}

/// A constant-value run of a pc-value table: `value` holds for pcs below
/// `entry + end` (and at or above the previous run's end). Offsets rather
/// than addresses keep the cached runs at 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub end: u32,
    pub value: i32,
}

impl<'a> Pclntab<'a> {
    /// Validates the header and the function table. `data` starts at the
    /// pcHeader and may extend past the end of the table.
    pub fn parse(data: &'a [u8]) -> Result<Pclntab<'a>, PclnError> {
        let magic = u32_at(data, 0).ok_or(PclnError::BadMagic)?;
        if MAGIC_OLD.contains(&magic) {
            return Err(PclnError::OldVersion(magic));
        }
        if magic != MAGIC_GO120 {
            return Err(PclnError::BadMagic);
        }
        let c = PclnError::Corrupt;
        let head = slice(data, 0, HEADER_SIZE).ok_or(c("header truncated"))?;
        let (pad1, pad2, min_lc, ptr_size) = (head[4], head[5], head[6], head[7]);
        if pad1 != 0 || pad2 != 0 {
            return Err(c("non-zero header padding"));
        }
        if ptr_size != 8 {
            return Err(c(
                "pointer size is not 8 (only 64-bit binaries are supported)",
            ));
        }
        if !matches!(min_lc, 1 | 2 | 4) {
            return Err(c("bad instruction size quantum"));
        }
        let word = |i: usize| u64_at(head, 8 + 8 * i).unwrap_or(u64::MAX);
        let len = data.len() as u64;
        let off = |i: usize| -> Result<usize, PclnError> {
            let v = word(i);
            if v < HEADER_SIZE as u64 || v > len {
                return Err(c("table offset out of range"));
            }
            bytes::to_usize(v).ok_or(c("table offset out of range"))
        };
        let hdr = Header {
            min_lc,
            nfunc: bytes::to_usize(word(0)).ok_or(c("bad function count"))?,
            text_start: word(2),
            funcname_off: off(3)?,
            cu_off: off(4)?,
            filetab_off: off(5)?,
            pctab_off: off(6)?,
            pcln_off: off(7)?,
        };
        // The linker emits the tables in this order (cmd/link pcln.go).
        if !(hdr.funcname_off <= hdr.cu_off
            && hdr.cu_off <= hdr.filetab_off
            && hdr.filetab_off <= hdr.pctab_off
            && hdr.pctab_off <= hdr.pcln_off)
        {
            return Err(c("table offsets out of order"));
        }
        if hdr.nfunc == 0 {
            return Err(c("no functions"));
        }
        let ftab_len = hdr
            .nfunc
            .checked_add(1)
            .and_then(|n| n.checked_mul(FUNCTAB_ENTRY_SIZE))
            .ok_or(c("function count too large"))?;
        let ftab = slice(data, hdr.pcln_off, ftab_len).ok_or(c("function table truncated"))?;
        // Sorted entries are what makes binary search by pc valid; checking
        // them all is cheap (8 bytes per function) and rejects most garbage.
        let mut prev = 0u32;
        for e in ftab.as_chunks::<FUNCTAB_ENTRY_SIZE>().0 {
            let entry = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            if entry < prev {
                return Err(c("function table not sorted"));
            }
            prev = entry;
        }
        Ok(Pclntab { data, hdr })
    }

    /// Re-creates a view from a header previously returned by [`parse`] for
    /// the same bytes, skipping validation (accessors stay bounds-checked,
    /// so a mismatched header can only produce wrong answers, not panics).
    ///
    /// [`parse`]: Pclntab::parse
    pub fn from_parts(data: &'a [u8], hdr: Header) -> Pclntab<'a> {
        Pclntab { data, hdr }
    }

    pub fn header(&self) -> &Header {
        &self.hdr
    }

    pub fn nfunc(&self) -> usize {
        self.hdr.nfunc
    }

    /// Entry offset (from text start) of function `i`; `i == nfunc` gives the
    /// end of the text.
    pub fn entry_off(&self, i: usize) -> Option<u32> {
        if i > self.hdr.nfunc {
            return None;
        }
        u32_at(self.data, self.hdr.pcln_off + i * FUNCTAB_ENTRY_SIZE)
    }

    /// Where function `i` ends: the next function's entry (the runtime makes
    /// the same assumption in `findfunc`).
    pub fn end_off(&self, i: usize) -> Option<u32> {
        self.entry_off(i.checked_add(1)?)
    }

    /// Index of the function whose [entry, next entry) range holds `text_off`.
    pub fn find(&self, text_off: u64) -> Option<usize> {
        let n = self.hdr.nfunc;
        let end = u64::from(self.entry_off(n)?);
        if text_off < u64::from(self.entry_off(0)?) || text_off >= end {
            return None;
        }
        // Largest i in [0, n) with entry_off(i) <= text_off.
        let (mut lo, mut hi) = (0usize, n);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if u64::from(self.entry_off(mid)?) <= text_off {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    /// The `_func` record of function `i`.
    pub fn func(&self, i: usize) -> Option<Func<'a>> {
        if i >= self.hdr.nfunc {
            return None;
        }
        let funcoff = u32_at(self.data, self.hdr.pcln_off + i * FUNCTAB_ENTRY_SIZE + 4)?;
        let start = self
            .hdr
            .pcln_off
            .checked_add(usize::try_from(funcoff).ok()?)?;
        let raw = self.data.get(start..)?;
        let f = Func {
            raw,
            entry_off: u32_at(raw, 0)?,
            name_off: i32_at(raw, 4)?,
            pcfile: u32_at(raw, 20)?,
            pcln: u32_at(raw, 24)?,
            npcdata: u32_at(raw, 28)?,
            cu_off: u32_at(raw, 32)?,
            nfuncdata: u8_at(raw, 43)?,
        };
        // A record whose entry disagrees with the functab is not trustworthy.
        (Some(f.entry_off) == self.entry_off(i)).then_some(f)
    }

    /// Function name at `name_off` in funcnametab.
    pub fn name(&self, name_off: i32) -> Option<&'a [u8]> {
        let off = self
            .hdr
            .funcname_off
            .checked_add(usize::try_from(name_off).ok()?)?;
        if off >= self.hdr.cu_off {
            return None;
        }
        cstr_at(self.data.get(..self.hdr.cu_off)?, off)
    }

    /// Name of function `i`.
    pub fn func_name(&self, i: usize) -> Option<&'a [u8]> {
        self.name(self.func(i)?.name_off)
    }

    /// File name of file number `fileno` (a pcfile value) in compilation
    /// unit `cu_off`: `filetab[cutab[cu_off + fileno]]`.
    pub fn file(&self, cu_off: u32, fileno: i32) -> Option<&'a [u8]> {
        let idx = usize::try_from(cu_off)
            .ok()?
            .checked_add(usize::try_from(fileno).ok()?)?;
        let pos = self.hdr.cu_off.checked_add(idx.checked_mul(4)?)?;
        if pos.checked_add(4)? > self.hdr.filetab_off {
            return None;
        }
        let file_off = u32_at(self.data, pos)?;
        if file_off == u32::MAX {
            return None; // "pcln section is corrupt" marker in funcfile
        }
        let start = self
            .hdr
            .filetab_off
            .checked_add(usize::try_from(file_off).ok()?)?;
        if start >= self.hdr.pctab_off {
            return None;
        }
        cstr_at(self.data.get(..self.hdr.pctab_off)?, start)
    }

    /// The pc-value table starting at `table` (an offset into pctab), as
    /// runs. Stops at the terminator, at malformed data, or after
    /// `max_runs` runs.
    pub fn runs(&self, table: u32, max_runs: usize) -> Vec<Run> {
        let mut out = Vec::new();
        self.walk(table, |run| {
            out.push(run);
            out.len() < max_runs
        });
        out
    }

    /// Value of the pc-value table at `target_off` bytes from the function
    /// entry (like `runtime.pcvalue`), or `None` if the table has no entry
    /// for it. (Lookups go through cached [`runs`](Pclntab::runs); this is
    /// the reference for the tests.)
    #[cfg(test)]
    pub fn value_at(&self, table: u32, target_off: u64) -> Option<i32> {
        let mut found = None;
        self.walk(table, |run| {
            if target_off < u64::from(run.end) {
                found = Some(run.value);
                false
            } else {
                true
            }
        });
        found
    }

    /// Decodes the table, calling `f` for each run until it returns false.
    fn walk(&self, table: u32, mut f: impl FnMut(Run) -> bool) {
        if table == 0 {
            return; // no table
        }
        let Some(start) = usize::try_from(table)
            .ok()
            .and_then(|t| self.hdr.pctab_off.checked_add(t))
        else {
            return;
        };
        let Some(mut p) = self.data.get(start..self.hdr.pcln_off) else {
            return;
        };
        let quantum = u32::from(self.hdr.min_lc);
        let mut pc: u32 = 0;
        let mut val: i32 = -1;
        let mut first = true;
        loop {
            let Some((uvdelta, n)) = uvarint32(p) else {
                return;
            };
            if uvdelta == 0 && !first {
                return;
            }
            first = false;
            p = &p[n..];
            // zigzag decode, wrapping like the runtime's int32 arithmetic
            let vdelta = ((uvdelta >> 1) as i32) ^ -((uvdelta & 1) as i32);
            val = val.wrapping_add(vdelta);
            let Some((pcdelta, n)) = uvarint32(p) else {
                return;
            };
            p = &p[n..];
            pc = pc.saturating_add(pcdelta.saturating_mul(quantum));
            if !f(Run {
                end: pc,
                value: val,
            }) {
                return;
            }
        }
    }
}

/// One `runtime.inlinedCall` (16 bytes; same layout go1.21.13 … go1.27.3 in
/// `runtime/symtabinl.go`): funcID u8, pad [3]u8, nameOff i32 (into
/// funcnametab), parentPc i32 (offset from the outer function's entry),
/// startLine i32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlinedCall {
    pub name_off: i32,
    pub parent_pc: i32,
}

pub const INLINED_CALL_SIZE: usize = 16;

impl InlinedCall {
    /// Entry `index` of the inline tree `tree` (the bytes at
    /// gofunc + funcdata[FUNCDATA_InlTree], to the end of their segment).
    pub fn read(tree: &[u8], index: i32) -> Option<InlinedCall> {
        let base = usize::try_from(index)
            .ok()?
            .checked_mul(INLINED_CALL_SIZE)?;
        let rec = slice(tree, base, INLINED_CALL_SIZE)?;
        Some(InlinedCall {
            name_off: i32_at(rec, 4)?,
            parent_pc: i32_at(rec, 8)?,
        })
    }
}

/// Offsets in `data` (at 8-byte aligned positions) where a go1.20+
/// pcHeader magic with plausible fixed fields starts. Used when section
/// headers are missing; candidates still need [`Pclntab::parse`].
pub fn scan_candidates(data: &[u8]) -> impl Iterator<Item = usize> + '_ {
    // magic f1 ff ff ff, pads 00 00, minLC 01 (amd64), ptrSize 08; other
    // minLC values are accepted by parse() but amd64 always uses 1, so the
    // scan also accepts 2 and 4 to stay architecture-neutral.
    (0..data.len().saturating_sub(7))
        .step_by(8)
        .filter(move |&off| {
            data.get(off..off + 8).is_some_and(|h| {
                h[..6] == [0xf1, 0xff, 0xff, 0xff, 0, 0] && matches!(h[6], 1 | 2 | 4) && h[7] == 8
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a tiny synthetic pclntab with the given functions
    /// (name, entry offset, pcln table bytes) and one file "a.go".
    pub fn synth(funcs: &[(&str, u32, Vec<u8>)], text_end: u32) -> Vec<u8> {
        let mut names = Vec::new();
        let mut name_offs = Vec::new();
        for (n, _, _) in funcs {
            name_offs.push(names.len() as i32);
            names.extend_from_slice(n.as_bytes());
            names.push(0);
        }
        let cutab: Vec<u8> = 0u32.to_le_bytes().to_vec();
        let filetab = b"a.go\0".to_vec();
        let mut pctab = vec![0u8]; // offset 0 means "no table"
        let mut pcln_offs = Vec::new();
        for (_, _, t) in funcs {
            pcln_offs.push(pctab.len() as u32);
            pctab.extend_from_slice(t);
        }
        // pcfile table: value 0 (delta +1 from -1) for 0x1000 bytes
        let pcfile_off = pctab.len() as u32;
        pctab.extend_from_slice(&[2, 0x80, 0x20, 0]);
        let funcname_off = HEADER_SIZE;
        let cu_off = funcname_off + names.len();
        let filetab_off = cu_off + cutab.len();
        let pctab_off = filetab_off + filetab.len();
        let pcln_off = (pctab_off + pctab.len() + 7) & !7;
        let mut d = Vec::new();
        d.extend_from_slice(&MAGIC_GO120.to_le_bytes());
        d.extend_from_slice(&[0, 0, 1, 8]);
        for w in [
            funcs.len(),
            1,
            0,
            funcname_off,
            cu_off,
            filetab_off,
            pctab_off,
            pcln_off,
        ] {
            d.extend_from_slice(&(w as u64).to_le_bytes());
        }
        d.extend_from_slice(&names);
        d.extend_from_slice(&cutab);
        d.extend_from_slice(&filetab);
        d.extend_from_slice(&pctab);
        d.resize(pcln_off, 0);
        let ftab_size = (funcs.len() + 1) * 8;
        for (i, (_, entry, _)) in funcs.iter().enumerate() {
            d.extend_from_slice(&entry.to_le_bytes());
            d.extend_from_slice(&((ftab_size + i * 48) as u32).to_le_bytes());
        }
        d.extend_from_slice(&text_end.to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes());
        for (i, (_, entry, _)) in funcs.iter().enumerate() {
            let mut rec = vec![0u8; 48];
            rec[0..4].copy_from_slice(&entry.to_le_bytes());
            rec[4..8].copy_from_slice(&name_offs[i].to_le_bytes());
            rec[20..24].copy_from_slice(&pcfile_off.to_le_bytes());
            rec[24..28].copy_from_slice(&pcln_offs[i].to_le_bytes());
            d.extend_from_slice(&rec);
        }
        d
    }

    #[test]
    fn decodes_synthetic_table() {
        // line 10 for 4 bytes, line 12 for 6 bytes, line 9 for 2 bytes:
        // deltas +11 (zigzag 22), +2 (4), -3 (5).
        let pcln = vec![22, 4, 4, 6, 5, 2, 0];
        let d = synth(&[("main.f", 0x10, pcln), ("main.g", 0x20, vec![0])], 0x30);
        let t = Pclntab::parse(&d).expect("parse");
        assert_eq!(t.nfunc(), 2);
        assert_eq!(t.find(0x0f), None);
        assert_eq!(t.find(0x10), Some(0));
        assert_eq!(t.find(0x1f), Some(0));
        assert_eq!(t.find(0x20), Some(1));
        assert_eq!(t.find(0x30), None);
        assert_eq!(t.func_name(1), Some(&b"main.g"[..]));
        let f = t.func(0).expect("func");
        let line = |off| t.value_at(f.pcln, off);
        assert_eq!(line(0), Some(10));
        assert_eq!(line(3), Some(10));
        assert_eq!(line(4), Some(12));
        assert_eq!(line(11), Some(9));
        assert_eq!(line(12), None);
        let file = t.value_at(f.pcfile, 0).expect("file no");
        assert_eq!(t.file(f.cu_off, file), Some(&b"a.go"[..]));
        assert_eq!(t.runs(f.pcln, 2).len(), 2);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        let d = synth(&[("a", 0, vec![2, 1, 0]), ("b", 4, vec![2, 1, 0])], 8);
        assert!(Pclntab::parse(&d).is_ok());
        for cut in 0..d.len() {
            let _ = Pclntab::parse(&d[..cut]);
        }
        let mut unsorted = d.clone();
        let pcln_off = u64_at(&d, 8 + 7 * 8).expect("off") as usize;
        unsorted[pcln_off..pcln_off + 4].copy_from_slice(&9u32.to_le_bytes());
        assert!(matches!(
            Pclntab::parse(&unsorted),
            Err(PclnError::Corrupt(_))
        ));
        let mut old = d.clone();
        old[..4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert_eq!(
            Pclntab::parse(&old).err(),
            Some(PclnError::OldVersion(0xffff_fff0))
        );
        assert_eq!(scan_candidates(&d).collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn inlined_call_layout() {
        let mut rec = vec![0u8; 32];
        rec[16 + 4..16 + 8].copy_from_slice(&7i32.to_le_bytes());
        rec[16 + 8..16 + 12].copy_from_slice(&(-1i32).to_le_bytes());
        rec[16 + 12..16 + 16].copy_from_slice(&42i32.to_le_bytes());
        let c = InlinedCall::read(&rec, 1).expect("entry 1");
        assert_eq!(
            c,
            InlinedCall {
                name_off: 7,
                parent_pc: -1,
            }
        );
        assert_eq!(InlinedCall::read(&rec, 2), None);
        assert_eq!(InlinedCall::read(&rec, -1), None);
    }
}
