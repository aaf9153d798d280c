//! The parts of the ELF file the Go tables need: PT_LOAD segments (for
//! address ↔ file offset), a few named sections, a few `.symtab` symbols,
//! the DT_NEEDED count, and the dynamic RELATIVE relocations (to read
//! pointers of PIE data whose in-file value was left for the dynamic loader
//! to fill).
//!
//! Everything is copied out of the `object` parser into plain structs so
//! [`super::GoBinary`] does not borrow from its own buffer. Section headers
//! are optional: if they are missing or unreadable the program headers alone
//! are used and callers fall back to scanning.

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, Rela, SectionHeader, Sym};
use object::Endianness;

use super::bytes;
use super::GoBinError;

type Header = elf::FileHeader64<Endianness>;

#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub vaddr: u64,
    pub offset: u64,
    pub filesz: u64,
    pub flags: u32,
}

impl Segment {
    pub fn is_exec(&self) -> bool {
        self.flags & elf::PF_X != 0
    }
    pub fn is_writable(&self) -> bool {
        self.flags & elf::PF_W != 0
    }
    /// File offset of `vaddr` if it lies in the file-backed part.
    fn file_offset(&self, vaddr: u64) -> Option<u64> {
        let rel = vaddr.checked_sub(self.vaddr)?;
        (rel < self.filesz)
            .then(|| self.offset.checked_add(rel))
            .flatten()
    }
}

#[derive(Clone, Debug)]
pub struct Section {
    pub name: String,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    /// SHT_NOBITS sections (.bss) have no bytes in the file.
    pub nobits: bool,
}

/// Addresses of `.symtab` symbols that pin down Go tables exactly.
#[derive(Clone, Copy, Debug, Default)]
pub struct KnownSymbols {
    /// `runtime.text`: base of functab entry offsets.
    pub runtime_text: Option<u64>,
    /// `go:func.*` (`go.func.*` before go1.20 naming): moduledata.gofunc.
    pub gofunc: Option<u64>,
    /// `runtime.firstmoduledata`.
    pub firstmoduledata: Option<u64>,
}

#[derive(Debug, Default)]
pub struct ElfImage {
    pub is_dyn: bool,
    pub entry: u64,
    /// PT_LOAD segments in file order.
    pub segments: Vec<Segment>,
    pub has_dynamic: bool,
    /// Number of DT_NEEDED entries (shared libraries the binary links).
    pub needed_libs: usize,
    /// Empty if the section headers are missing or unreadable.
    pub sections: Vec<Section>,
    pub has_symtab: bool,
    pub syms: KnownSymbols,
    /// (vaddr, size) of the DT_RELA table.
    pub rela_table: Option<(u64, u64)>,
    /// R_X86_64_RELATIVE relocations as (vaddr, addend), sorted by vaddr;
    /// empty until [`ElfImage::load_relative_relocs`].
    pub relative_relocs: Vec<(u64, u64)>,
}

/// DT_* constants are u32 in object 0.36 and i64 in 0.39; this accepts both
/// (a generic conversion, so no lint fires for the identity case).
fn tag_value<T: Into<i64>>(v: T) -> i64 {
    v.into()
}

impl ElfImage {
    pub fn parse(data: &[u8]) -> Result<ElfImage, GoBinError> {
        let hdr = Header::parse(data).map_err(|_| GoBinError::NotElf)?;
        let endian = hdr.endian().map_err(|_| GoBinError::NotElf)?;
        if endian != Endianness::Little {
            return Err(GoBinError::NotElf);
        }
        let e_type = hdr.e_type(endian);
        if e_type != elf::ET_EXEC && e_type != elf::ET_DYN {
            return Err(GoBinError::NotGo(format!(
                "ELF type {e_type} is not an executable"
            )));
        }
        let phdrs = hdr
            .program_headers(endian, data)
            .map_err(|e| GoBinError::Corrupt(format!("unreadable ELF program headers: {e}")))?;
        let mut img = ElfImage {
            is_dyn: e_type == elf::ET_DYN,
            entry: hdr.e_entry(endian),
            ..ElfImage::default()
        };
        for ph in phdrs {
            match ph.p_type(endian) {
                elf::PT_LOAD => img.segments.push(Segment {
                    vaddr: ph.p_vaddr(endian),
                    offset: ph.p_offset(endian),
                    filesz: ph.p_filesz(endian),
                    flags: ph.p_flags(endian),
                }),
                elf::PT_DYNAMIC => img.has_dynamic = true,
                _ => {}
            }
        }
        if img.segments.is_empty() {
            return Err(GoBinError::NotGo(
                "ELF file has no loadable segments".into(),
            ));
        }
        // Section headers are optional (sstrip'ed or damaged files): ignore
        // errors and rely on scanning instead.
        if let Ok(sections) = hdr.sections(endian, data) {
            for sh in sections.iter() {
                let name = sections.section_name(endian, sh).unwrap_or_default();
                img.sections.push(Section {
                    name: bytes::string_lossy(name),
                    addr: sh.sh_addr(endian),
                    offset: sh.sh_offset(endian),
                    size: sh.sh_size(endian),
                    nobits: sh.sh_type(endian) == elf::SHT_NOBITS,
                });
            }
            if let Ok(symtab) = sections.symbols(endian, data, elf::SHT_SYMTAB) {
                img.has_symtab = !symtab.is_empty();
                for sym in symtab.iter() {
                    let Ok(name) = symtab.symbol_name(endian, sym) else {
                        continue;
                    };
                    let slot = match name {
                        b"runtime.text" => &mut img.syms.runtime_text,
                        b"go:func.*" | b"go.func.*" => &mut img.syms.gofunc,
                        b"runtime.firstmoduledata" => &mut img.syms.firstmoduledata,
                        _ => continue,
                    };
                    slot.get_or_insert(sym.st_value(endian));
                }
            }
        }
        if img.has_dynamic {
            img.read_dynamic(data, endian, phdrs);
        }
        Ok(img)
    }

    /// DT_NEEDED count and the location of the relocation table, found
    /// through PT_DYNAMIC so that this works without section headers.
    fn read_dynamic(
        &mut self,
        data: &[u8],
        endian: Endianness,
        phdrs: &[elf::ProgramHeader64<Endianness>],
    ) {
        let mut rela: Option<u64> = None;
        let mut relasz: u64 = 0;
        for ph in phdrs {
            let Ok(Some(dyns)) = ph.dynamic(endian, data) else {
                continue;
            };
            for d in dyns {
                // d_tag is unsigned in object 0.36 and signed in 0.39.
                #[allow(clippy::unnecessary_cast)]
                let tag = d.d_tag(endian) as i64;
                if tag == tag_value(elf::DT_NULL) {
                    break;
                } else if tag == tag_value(elf::DT_NEEDED) {
                    self.needed_libs += 1;
                } else if tag == tag_value(elf::DT_RELA) {
                    rela = Some(d.d_val(endian));
                } else if tag == tag_value(elf::DT_RELASZ) {
                    relasz = d.d_val(endian);
                }
            }
        }
        self.rela_table = rela.map(|va| (va, relasz));
    }

    /// Reads the RELATIVE relocations (only needed when in-file pointers
    /// were left for the loader; they can be millions in big PIEs, so this
    /// is on demand).
    pub fn load_relative_relocs(&mut self, data: &[u8]) {
        let endian = Endianness::Little;
        let Some(table) = self
            .rela_table
            .and_then(|(va, size)| self.bytes_at(data, va, size))
        else {
            return;
        };
        let whole = table
            .get(..table.len() - table.len() % 24)
            .unwrap_or_default();
        let Ok(entries) = object::pod::slice_from_all_bytes::<elf::Rela64<Endianness>>(whole)
        else {
            return;
        };
        self.relative_relocs = entries
            .iter()
            .filter(|r| r.r_type(endian, false) == elf::R_X86_64_RELATIVE)
            .map(|r| (r.r_offset(endian), r.r_addend(endian) as u64))
            .collect();
        self.relative_relocs.sort_unstable();
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// File bytes of a section (empty for SHT_NOBITS).
    pub fn section_bytes<'d>(&self, data: &'d [u8], s: &Section) -> Option<&'d [u8]> {
        if s.nobits {
            return None;
        }
        bytes::slice(data, bytes::to_usize(s.offset)?, bytes::to_usize(s.size)?)
    }

    /// File offset of `vaddr` via the PT_LOAD segments.
    pub fn vaddr_to_offset(&self, vaddr: u64) -> Option<u64> {
        self.segments.iter().find_map(|s| s.file_offset(vaddr))
    }

    /// `len` file-backed bytes at `vaddr`, all within one segment.
    pub fn bytes_at<'d>(&self, data: &'d [u8], vaddr: u64, len: u64) -> Option<&'d [u8]> {
        let seg = self
            .segments
            .iter()
            .find(|s| s.file_offset(vaddr).is_some())?;
        let rel = vaddr - seg.vaddr; // file_offset() succeeded, so no underflow
        if rel.checked_add(len)? > seg.filesz {
            return None;
        }
        let off = seg.offset.checked_add(rel)?;
        bytes::slice(data, bytes::to_usize(off)?, bytes::to_usize(len)?)
    }

    /// File-backed bytes from `vaddr` to the end of its segment.
    pub fn bytes_from<'d>(&self, data: &'d [u8], vaddr: u64) -> Option<&'d [u8]> {
        let seg = self
            .segments
            .iter()
            .find(|s| s.file_offset(vaddr).is_some())?;
        let len = seg.filesz - (vaddr - seg.vaddr);
        self.bytes_at(data, vaddr, len)
    }

    /// A pointer-sized word of data at `vaddr`, as the loaded program sees
    /// it: if a RELATIVE relocation targets it, its addend (the in-file word
    /// may be 0 when the static linker left it to the loader).
    pub fn read_ptr(&self, data: &[u8], vaddr: u64) -> Option<u64> {
        if let Ok(i) = self.relative_relocs.binary_search_by_key(&vaddr, |r| r.0) {
            return self.relative_relocs.get(i).map(|r| r.1);
        }
        bytes::u64_at(self.bytes_at(data, vaddr, 8)?, 0)
    }

    /// Vaddr of the lowest PT_LOAD that maps file offset 0 (the ELF header),
    /// falling back to the lowest PT_LOAD vaddr.
    pub fn first_load_vaddr(&self) -> u64 {
        self.segments
            .iter()
            .find(|s| s.offset == 0)
            .or_else(|| self.segments.iter().min_by_key(|s| s.vaddr))
            .map_or(0, |s| s.vaddr)
    }
}
