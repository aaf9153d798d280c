//! Reading Go (1.20+, linux/amd64) executables without DWARF or symbols:
//! build info, the function table (`.gopclntab`), source positions with
//! inlined calls expanded, and ELF address mapping for uprobes.
//!
//! Works on unstripped, `-ldflags='-s -w'`, PIE and section-header-less
//! binaries: every table is located through its section when there is one
//! and by scanning and validating otherwise. Parsing never panics on
//! malformed input.
//!
//! Files: `elf` (segments, sections, symbols), `buildinfo`, `pclntab`
//! (table formats), `moduledata` (runtime.firstmoduledata for stripped
//! binaries), `lookup` (by name / address), `symbolize` (pc → frames).

mod buildinfo;
mod bytes;
mod elf;
mod error;
mod lookup;
mod moduledata;
mod pclntab;
mod symbolize;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Mutex;

pub use buildinfo::BuildInfo;
pub use error::GoBinError;

use elf::ElfImage;
use lookup::NameIndex;
use pclntab::{Header, PclnError, Pclntab};
use symbolize::FrameCache;

/// A function of the pclntab. Addresses are link-time virtual addresses;
/// `end` is the next function's entry (Go's own notion of function extent).
#[derive(Clone, Debug)]
pub struct FuncInfo {
    pub name: String,
    pub entry: u64,
    pub end: u64,
}

/// One source frame. `file` and `function` are "?" and `line` is 0 when
/// the tables have no information for the pc.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Frame {
    pub function: String,
    pub file: String,
    pub line: u32,
    pub inlined: bool,
}

/// A parsed Go executable. Owns the file bytes; lookups decode the tables
/// in place. `Send + Sync`: the caches are behind a lock / `OnceLock`.
pub struct GoBinary {
    data: Vec<u8>,
    elf: ElfImage,
    build: BuildInfo,
    /// File range of the pclntab (from the pcHeader to the end of its
    /// section or segment).
    pcln_range: std::ops::Range<usize>,
    pcln_hdr: Header,
    /// Base of functab entry offsets (`runtime.text`).
    text_start: u64,
    /// `moduledata.gofunc`, the base of funcdata offsets; `None` if it could
    /// not be found (then inlined calls are not expanded).
    gofunc: Option<u64>,
    /// Address of runtime.firstmoduledata if it had to be located (only for
    /// binaries without `runtime.text`/`go:func.*` symbols).
    moduledata: Option<u64>,
    has_cgo: bool,
    names: NameIndex,
    cache: Mutex<FrameCache>,
}

impl std::fmt::Debug for GoBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoBinary")
            .field("go_version", &self.build.go_version)
            .field("nfunc", &self.pcln_hdr.nfunc)
            .field("text_start", &format_args!("{:#x}", self.text_start))
            .field("gofunc", &self.gofunc.map(|g| format!("{g:#x}")))
            .field("moduledata", &self.moduledata.map(|m| format!("{m:#x}")))
            .field("pie", &self.is_pie())
            .field("stripped", &self.is_stripped())
            .finish()
    }
}

/// Where the pclntab was found.
struct PclnLoc {
    file_off: usize,
    len: usize,
    vaddr: u64,
    hdr: Header,
}

impl GoBinary {
    pub fn open(path: &Path) -> Result<GoBinary, GoBinError> {
        let data =
            std::fs::read(path).map_err(|e| GoBinError::Io(path.display().to_string(), e))?;
        GoBinary::parse(data)
    }

    pub fn parse(data: Vec<u8>) -> Result<GoBinary, GoBinError> {
        let mut elf = ElfImage::parse(&data)?;
        let build = find_build_info(&elf, &data);
        let Some(loc) = find_pclntab(&elf, &data)? else {
            return Err(match build {
                Ok(Some(b)) if b.version().is_some_and(|v| v < (1, 20)) => GoBinError::Unsupported(
                    format!("{} (Go 1.20 or newer is required)", b.go_version),
                ),
                Ok(Some(_)) => GoBinError::Corrupt(
                    "Go build info found but no function table (.gopclntab)".into(),
                ),
                // Any file can hold the marker bytes; without a function
                // table a blob that does not parse (truncated, or the
                // pre-1.18 pointer form) is not Go. A real old Go binary
                // is refused above, by its old function table.
                Ok(None) | Err(_) => GoBinError::NotGo("no Go build info or function table".into()),
            });
        };
        let build = build?.unwrap_or_default();
        let pcln_range = loc.file_off..loc.file_off + loc.len;
        let table = Pclntab::from_parts(data.get(pcln_range.clone()).unwrap_or_default(), loc.hdr);

        // With .symtab both values are exact; otherwise ask the moduledata.
        let md = if elf.syms.runtime_text.is_some() && elf.syms.gofunc.is_some() {
            None
        } else {
            let want = moduledata::Expect {
                pcln_vaddr: loc.vaddr,
                hdr: &loc.hdr,
                go_minor: build.version().filter(|v| v.0 == 1).map(|v| v.1),
            };
            moduledata::find(&elf, &data, &want).or_else(|| {
                // Maybe the pointers are only in relocations (PIE).
                elf.load_relative_relocs(&data);
                let md = moduledata::find(&elf, &data, &want);
                elf.relative_relocs = Vec::new();
                md
            })
        };
        let text_start = choose_text_start(&elf, &table, md.map(|m| m.text)).ok_or_else(|| {
            GoBinError::Corrupt("cannot locate the text segment of the function table".into())
        })?;
        let gofunc = elf.syms.gofunc.or(md.and_then(|m| m.gofunc));
        let has_cgo = elf.needed_libs > 0 || links_runtime_cgo(&table);

        Ok(GoBinary {
            pcln_range,
            pcln_hdr: loc.hdr,
            text_start,
            gofunc,
            moduledata: md.map(|m| m.addr),
            has_cgo,
            build,
            elf,
            data,
            names: NameIndex::default(),
            cache: Mutex::new(FrameCache::default()),
        })
    }

    /// The executable's bytes when it has a `.symtab` (data symbols are
    /// only there, never loaded): `None` when stripped.
    pub fn symtab_file(&self) -> Option<&[u8]> {
        (!self.is_stripped()).then_some(&self.data[..])
    }

    pub fn build_info(&self) -> &BuildInfo {
        &self.build
    }

    /// ELF type ET_DYN (`-buildmode=pie`; Go PIEs still link at 0x400000).
    pub fn is_pie(&self) -> bool {
        self.elf.is_dyn
    }

    /// No `.symtab` (`-ldflags=-s`, `strip`, or no section headers). The
    /// pclntab is still there, so symbolization is unaffected.
    pub fn is_stripped(&self) -> bool {
        !self.elf.has_symtab
    }

    /// Whether C code runs in the process: the binary depends on shared
    /// libraries (DT_NEEDED, which on linux only cgo brings in), or it
    /// contains the Go side of package runtime/cgo (statically linked cgo).
    /// The build setting CGO_ENABLED=1 alone does not count: `go build`
    /// sets it whenever a C compiler is installed, even if no package uses
    /// cgo, and such binaries are pure Go.
    pub fn has_cgo(&self) -> bool {
        self.has_cgo
    }

    /// File offset of a link-time virtual address, via the PT_LOAD segments
    /// (what a uprobe attach needs). `None` if not file-backed.
    pub fn vaddr_to_file_offset(&self, vaddr: u64) -> Option<u64> {
        self.elf.vaddr_to_offset(vaddr)
    }

    /// p_vaddr of the PT_LOAD mapping file offset 0. A PIE's load bias is
    /// (start of its offset-0 mapping in /proc/pid/maps) − this value.
    pub fn first_load_vaddr(&self) -> u64 {
        self.elf.first_load_vaddr()
    }

    /// `len` bytes of code at `vaddr`, if entirely inside one executable
    /// segment's file-backed part.
    pub fn text_bytes(&self, vaddr: u64, len: u64) -> Option<&[u8]> {
        let in_exec = self
            .elf
            .segments
            .iter()
            .any(|s| s.is_exec() && vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz);
        if !in_exec {
            return None;
        }
        self.elf.bytes_at(&self.data, vaddr, len)
    }

    fn pcln(&self) -> Pclntab<'_> {
        Pclntab::from_parts(
            self.data.get(self.pcln_range.clone()).unwrap_or_default(),
            self.pcln_hdr,
        )
    }
}

/// Build info from `.go.buildinfo`, else from a scan of the writable
/// segments, else of the whole file. `Ok(None)` if there is none.
fn find_build_info(elf: &ElfImage, data: &[u8]) -> Result<Option<BuildInfo>, GoBinError> {
    let mut regions: Vec<&[u8]> = Vec::new();
    if let Some(b) = elf
        .section(".go.buildinfo")
        .and_then(|s| elf.section_bytes(data, s))
    {
        regions.push(b);
    }
    for seg in elf.segments.iter().filter(|s| s.is_writable()) {
        if let Some(b) = elf.bytes_at(data, seg.vaddr, seg.filesz) {
            regions.push(b);
        }
    }
    regions.push(data);
    let mut first_err = None;
    for region in regions {
        let mut rest = region;
        while let Some(off) = buildinfo::find(rest) {
            match buildinfo::parse_blob(&rest[off..]) {
                Ok(b) => return Ok(Some(b)),
                Err(e @ GoBinError::Unsupported(_)) => return Err(e),
                // Not build info after all: keep looking.
                Err(GoBinError::NotGo(_)) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
            // Keep the 16-byte alignment for the next search.
            rest = rest.get(off + 16..).unwrap_or_default();
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// The pclntab: from its section if there is one, else the largest valid
/// table found by scanning the loadable segments.
fn find_pclntab(elf: &ElfImage, data: &[u8]) -> Result<Option<PclnLoc>, GoBinError> {
    let check = |r: Result<Pclntab<'_>, PclnError>| -> Result<Option<Header>, GoBinError> {
        match r {
            Ok(t) => Ok(Some(*t.header())),
            Err(PclnError::OldVersion(m)) => Err(GoBinError::Unsupported(format!(
                "function table format {m:#x} is from Go older than 1.20"
            ))),
            Err(_) => Ok(None),
        }
    };
    for name in [".gopclntab", ".data.rel.ro.gopclntab"] {
        let Some(sec) = elf.section(name) else {
            continue;
        };
        let Some(b) = elf.section_bytes(data, sec) else {
            continue;
        };
        match check(Pclntab::parse(b)) {
            Ok(Some(hdr)) => {
                return Ok(Some(PclnLoc {
                    file_off: bytes::to_usize(sec.offset).unwrap_or(0),
                    len: b.len(),
                    vaddr: sec.addr,
                    hdr,
                }))
            }
            Ok(None) => {}
            Err(e) => return Err(e),
        }
    }
    let mut best: Option<PclnLoc> = None;
    for seg in &elf.segments {
        let Some(b) = elf.bytes_at(data, seg.vaddr, seg.filesz) else {
            continue;
        };
        // pcHeader is pointer-aligned in memory.
        let skip = ((8 - seg.vaddr % 8) % 8) as usize;
        let Some(b) = b.get(skip..) else { continue };
        for off in pclntab::scan_candidates(b) {
            let Some(hdr) = check(Pclntab::parse(&b[off..]))? else {
                continue;
            };
            if best.as_ref().is_some_and(|x| x.hdr.nfunc >= hdr.nfunc) {
                continue;
            }
            let at = skip + off;
            let (Some(file_off), Some(vaddr)) = (
                bytes::to_usize(seg.offset).and_then(|o| o.checked_add(at)),
                seg.vaddr.checked_add(at as u64),
            ) else {
                continue;
            };
            best = Some(PclnLoc {
                file_off,
                len: b.len() - off,
                vaddr,
                hdr,
            });
        }
    }
    Ok(best)
}

/// Base address of the functab entry offsets. Candidates in order of
/// trust; the first whose whole text range lies in an executable segment
/// wins:
/// 1. `runtime.text` from .symtab;
/// 2. moduledata.text;
/// 3. pcHeader.textStart (written up to go1.25, 0 since go1.26);
/// 4. the ELF entry point minus the entry offset of `_rt0_amd64_linux`
///    (the entry point of internally linked Go programs);
/// 5. the `.text` section address (differs from runtime.text when an
///    external linker put C code first).
fn choose_text_start(elf: &ElfImage, t: &Pclntab<'_>, md_text: Option<u64>) -> Option<u64> {
    let first = u64::from(t.entry_off(0)?);
    let last = u64::from(t.entry_off(t.nfunc())?);
    let fits = |base: u64| {
        let (Some(lo), Some(hi)) = (base.checked_add(first), base.checked_add(last)) else {
            return false;
        };
        elf.segments
            .iter()
            .any(|s| s.is_exec() && lo >= s.vaddr && hi <= s.vaddr.saturating_add(s.filesz))
    };
    let from_entry = || {
        (0..t.nfunc())
            .find(|&i| t.func_name(i) == Some(b"_rt0_amd64_linux".as_slice()))
            .and_then(|i| elf.entry.checked_sub(u64::from(t.entry_off(i)?)))
    };
    let candidates = [
        elf.syms.runtime_text,
        md_text,
        Some(t.header().text_start).filter(|&v| v != 0),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|&b| fits(b))
        .or_else(|| from_entry().filter(|&b| fits(b)))
        .or_else(|| elf.section(".text").map(|s| s.addr).filter(|&b| fits(b)))
}

/// Whether the Go part of package runtime/cgo is linked in (it provides
/// `_cgo_init` and friends only when some package uses cgo).
fn links_runtime_cgo(t: &Pclntab<'_>) -> bool {
    (0..t.nfunc()).any(|i| {
        t.func_name(i)
            .is_some_and(|n| n.starts_with(b"runtime/cgo.") || n.starts_with(b"_cgo_"))
    })
}
