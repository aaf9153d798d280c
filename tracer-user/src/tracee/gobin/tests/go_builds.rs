//! Checks against real builds of the fixture (see `harness`), with the Go
//! tools' own output as ground truth.

use std::collections::HashMap;
use std::time::Instant;

use object::read::elf::ElfFile64;
use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};

use super::harness::{self, drop_section_headers, fixtures, Build, Fixtures, Flavour, Insn};
use crate::tracee::gobin::buildinfo::go_unquote;
use crate::tracee::gobin::elf::ElfImage;
use crate::tracee::gobin::{Frame, GoBinary};

fn parse(fx: &Fixtures, b: &Build) -> GoBinary {
    GoBinary::parse(b.bytes.clone())
        .unwrap_or_else(|e| panic!("{}: parse failed: {e}", fx.label(b)))
}

fn func_list(bin: &GoBinary) -> Vec<(String, u64, u64)> {
    bin.functions().map(|f| (f.name, f.entry, f.end)).collect()
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[test]
fn build_info_matches_go_version_m() {
    let fx = fixtures();
    for b in &fx.builds {
        let label = fx.label(b);
        let t = Instant::now();
        let bin = parse(fx, b);
        let took = t.elapsed();
        let bi = bin.build_info();
        let vm = &b.version_m;
        assert_eq!(bi.go_version, vm.go_version, "{label}");
        assert_eq!(bi.go_version, fx.toolchains[b.toolchain].version, "{label}");
        assert_eq!(bi.main_path, vm.path, "{label}");
        assert_eq!(bi.main_module, vm.module, "{label}");
        assert_eq!(bi.main_module, "example.com/gobinfixture", "{label}");
        assert_eq!(
            bi.settings.len(),
            vm.settings.len(),
            "{label}: {:?}",
            bi.settings
        );
        for printed in &vm.settings {
            let (k, v) = printed.split_once('=').expect("build line has =");
            let v = if v.starts_with('"') {
                go_unquote(v).expect("quoted value")
            } else {
                v.to_string()
            };
            assert_eq!(bi.setting(k), Some(v.as_str()), "{label}: setting {k}");
        }
        assert!(
            bi.setting("CGO_ENABLED").is_some(),
            "{label}: no CGO_ENABLED"
        );
        let want_version = bi
            .go_version
            .trim_start_matches("go")
            .split('.')
            .take(2)
            .map(|n| n.parse::<u32>().ok())
            .collect::<Vec<_>>();
        assert_eq!(
            bi.version().map(|(a, b)| vec![Some(a), Some(b)]),
            Some(want_version),
            "{label}"
        );
        if b.flavour.is_stripped() {
            assert_eq!(bi.setting("-ldflags"), Some("-s -w"), "{label}");
        }
        assert_eq!(bin.is_pie(), b.flavour.is_pie(), "{label}: is_pie");
        assert_eq!(
            bin.is_stripped(),
            b.flavour.is_stripped(),
            "{label}: is_stripped"
        );
        assert_eq!(bin.has_cgo(), b.flavour.is_cgo(), "{label}: has_cgo");
        eprintln!(
            "{label:<28} ok: {} functions, text {:#x}, gofunc {:?}, parse {took:?}",
            bin.pcln_hdr.nfunc,
            bin.text_start,
            bin.gofunc.map(|g| format!("{g:#x}"))
        );
    }
}

#[test]
fn every_symtab_function_agrees_with_pclntab() {
    let fx = fixtures();
    for b in fx.builds.iter().filter(|b| !b.flavour.is_stripped()) {
        let label = fx.label(b);
        let bin = parse(fx, b);
        let elf = ElfFile64::<object::Endianness>::parse(b.bytes.as_slice())
            .expect("object parses fixture");
        let mut by_name: HashMap<String, Vec<u64>> = HashMap::new();
        let (mut checked, mut not_go) = (0usize, 0usize);
        for sym in elf.symbols() {
            if sym.kind() != SymbolKind::Text || sym.size() == 0 {
                continue;
            }
            let name = sym.name().expect("symbol name").to_string();
            let addr = sym.address();
            let Some(f) = bin.func_at(addr).filter(|f| f.entry == addr) else {
                // Only C code (cgo builds) may be missing from the pclntab.
                assert!(
                    b.flavour.is_cgo(),
                    "{label}: {name} at {addr:#x} not a pclntab function"
                );
                not_go += 1;
                continue;
            };
            // ABI0 assembly functions are named without the suffix in
            // pclntab, and .symtab spells some dots as U+00B7.
            let want = name.trim_end_matches(".abi0").replace('\u{b7}', ".");
            assert_eq!(f.name.replace('\u{b7}', "."), want, "{label}: at {addr:#x}");
            by_name.entry(f.name).or_default().push(addr);
            checked += 1;
        }
        for (name, addrs) in &by_name {
            let f = bin
                .function(name)
                .unwrap_or_else(|| panic!("{label}: function({name}) missing"));
            if addrs.len() == 1 {
                assert_eq!(f.entry, addrs[0], "{label}: function({name})");
            } else {
                assert!(addrs.contains(&f.entry), "{label}: function({name})");
            }
        }
        assert!(checked > 1000, "{label}: only {checked} symbols checked");
        let pcln_count = bin.functions().count();
        eprintln!("{label:<28} ok: {checked} .symtab functions match ({pcln_count} in pclntab, {not_go} C)");
    }
}

#[test]
fn stripped_builds_match_unstripped() {
    let fx = fixtures();
    for b in fx.builds.iter().filter(|b| b.flavour.is_stripped()) {
        let label = fx.label(b);
        let bin = parse(fx, b);
        for name in [
            "runtime.mallocgc",
            "main.main",
            "main.noInlineLeaf",
            "main.sumTo",
            "main.threeReturns",
        ] {
            if b.flavour.is_cgo() && name != "main.main" && name != "runtime.mallocgc" {
                continue;
            }
            assert!(bin.function(name).is_some(), "{label}: {name} missing");
        }
        let Some(twin) = b.flavour.unstripped().and_then(|f| fx.get(b.toolchain, f)) else {
            continue;
        };
        let twin = parse(fx, twin);
        // Same link: the whole function table must be identical.
        assert_eq!(func_list(&bin), func_list(&twin), "{label}");
        for name in ["runtime.mallocgc", "main.main"] {
            assert_eq!(
                bin.function(name).map(|f| f.entry),
                twin.function(name).map(|f| f.entry),
                "{label}: {name}"
            );
        }
        eprintln!("{label:<28} ok: function table equals the unstripped build's");
    }
}

/// Checks symbolization of every disassembled instruction (main, fmt and
/// strconv functions) against `go tool objdump` (innermost file:line,
/// physical function, code bytes), and the fixture's known inlining.
fn check_against_objdump(fx: &Fixtures, b: &Build, bin: &GoBinary) -> usize {
    let label = fx.label(b);
    let disasm = fx
        .disasm_for(b)
        .unwrap_or_else(|| panic!("{label}: no objdump"));
    let same_build = b.disasm.is_some();
    let mut checked = 0;
    let mut inlined_seen = 0;
    for (func, insns) in disasm {
        // objdump shows ABI0 (assembly-ABI) symbols with their .symtab suffix.
        let func = &func.trim_end_matches(".abi0").to_string();
        let info = bin
            .function(func)
            .unwrap_or_else(|| panic!("{label}: {func} missing"));
        assert_eq!(info.entry, insns[0].addr, "{label}: entry of {func}");
        for insn in insns {
            let frames = bin.symbolize(insn.addr);
            let ctx = || {
                format!(
                    "{label}: {func} {:#x} {}:{} => {frames:?}",
                    insn.addr, insn.file, insn.line
                )
            };
            let (inner, outer) = (
                frames.first().unwrap_or_else(|| panic!("{}", ctx())),
                frames.last().expect("non-empty"),
            );
            assert_eq!(base_name(&inner.file), insn.file, "{}", ctx());
            assert_eq!(inner.line, insn.line, "{}", ctx());
            assert_eq!(&outer.function, func, "{}", ctx());
            assert!(!outer.inlined, "{}", ctx());
            assert!(
                frames[..frames.len() - 1].iter().all(|f| f.inlined),
                "{}",
                ctx()
            );
            assert_eq!(
                bin.func_at(insn.addr).map(|f| f.name).as_deref(),
                Some(func.as_str()),
                "{}",
                ctx()
            );
            let code = bin.text_bytes(insn.addr, insn.bytes.len() as u64);
            if same_build {
                assert_eq!(code, Some(insn.bytes.as_slice()), "{}", ctx());
            } else {
                // The twin's rodata is laid out differently (its build info
                // differs), so pc-relative operands may differ.
                assert_eq!(code.map(<[u8]>::len), Some(insn.bytes.len()), "{}", ctx());
            }
            checked += 1;
            if func == "main.sumTo" && insn.line == harness::LINE_ADD_SMALL_BODY {
                let want = vec![
                    Frame {
                        function: "main.addSmall".into(),
                        file: inner.file.clone(),
                        line: harness::LINE_ADD_SMALL_BODY,
                        inlined: true,
                    },
                    Frame {
                        function: "main.sumTo".into(),
                        file: inner.file.clone(),
                        line: harness::LINE_SUMTO_CALL,
                        inlined: false,
                    },
                ];
                assert_eq!(frames, want, "{}", ctx());
                inlined_seen += 1;
            }
        }
    }
    if !b.flavour.is_cgo() {
        assert!(
            inlined_seen > 0,
            "{label}: no instruction of the inlined addSmall found"
        );
        let leaf = disasm
            .get("main.noInlineLeaf")
            .expect("noInlineLeaf in objdump");
        assert!(
            leaf.iter().any(|i| i.line == harness::LINE_NOINLINE_BODY),
            "{label}"
        );
        // threeReturns has three return statements → three RETs.
        let rets: Vec<&Insn> = disasm["main.threeReturns"]
            .iter()
            .filter(|i| i.asm.starts_with("RET"))
            .collect();
        assert_eq!(rets.len(), 3, "{label}: RETs in threeReturns");
        for r in rets {
            assert_eq!(
                bin.text_bytes(r.addr, 1),
                Some(&[0xc3u8][..]),
                "{label}: RET at {:#x}",
                r.addr
            );
        }
    } else {
        let via_c = disasm.get("main.viaC").expect("viaC in objdump");
        assert!(
            via_c.iter().any(|i| i.line == harness::LINE_VIA_C_BODY),
            "{label}"
        );
    }
    checked
}

#[test]
fn symbolize_matches_objdump() {
    let fx = fixtures();
    for b in &fx.builds {
        if fx.disasm_for(b).is_none() {
            continue; // cgo pie: no same-address twin with symbols
        }
        let bin = parse(fx, b);
        let n = check_against_objdump(fx, b, &bin);
        eprintln!("{:<28} ok: {n} instructions match objdump", fx.label(b));
    }
}

#[test]
fn works_without_section_headers() {
    let fx = fixtures();
    for b in fx.builds.iter().filter(|b| b.flavour.is_stripped()) {
        let label = format!("{} no-shdr", fx.label(b));
        let with = parse(fx, b);
        let without = GoBinary::parse(drop_section_headers(b.bytes.clone()))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert!(without.elf.sections.is_empty(), "{label}");
        assert!(without.is_stripped(), "{label}");
        assert_eq!(without.is_pie(), with.is_pie(), "{label}");
        assert_eq!(without.has_cgo(), with.has_cgo(), "{label}");
        assert_eq!(
            without.build_info().settings,
            with.build_info().settings,
            "{label}"
        );
        assert_eq!(
            without.build_info().go_version,
            with.build_info().go_version,
            "{label}"
        );
        assert_eq!(func_list(&without), func_list(&with), "{label}");
        assert_eq!(without.gofunc, with.gofunc, "{label}: gofunc");
        assert!(without.gofunc.is_some(), "{label}: gofunc not found");
        if fx.disasm_for(b).is_some() {
            check_against_objdump(fx, b, &without);
        }
        for f in with.functions().step_by(7) {
            assert_eq!(
                without.symbolize(f.entry),
                with.symbolize(f.entry),
                "{label}: {}",
                f.name
            );
        }
        eprintln!("{label:<28} ok");
    }
}

/// A static linker may leave PIE pointers to the dynamic loader (in-file
/// word 0, value only in a RELATIVE relocation). Simulate that for the
/// moduledata and check that it is still found.
#[test]
fn pie_moduledata_through_relocations() {
    let fx = fixtures();
    for b in fx.builds.iter().filter(|b| b.flavour == Flavour::Pie) {
        let label = fx.label(b);
        let bin = parse(fx, b);
        let md = bin
            .elf
            .syms
            .firstmoduledata
            .expect("runtime.firstmoduledata in .symtab");
        let off = bin
            .vaddr_to_file_offset(md)
            .expect("moduledata is file-backed") as usize;
        // Zero exactly the words a RELATIVE relocation fills in.
        let mut img = ElfImage::parse(&b.bytes).expect("elf");
        img.load_relative_relocs(&b.bytes);
        let relocs = img.relative_relocs;
        let mut bytes = b.bytes.clone();
        let mut zeroed_words = 0;
        for i in 0..64u64 {
            if relocs.binary_search_by_key(&(md + 8 * i), |r| r.0).is_ok() {
                let at = off + 8 * i as usize;
                bytes[at..at + 8].fill(0);
                zeroed_words += 1;
            }
        }
        assert!(
            zeroed_words > 20,
            "{label}: only {zeroed_words} relocated moduledata words"
        );
        let bytes = drop_section_headers(bytes);
        let zeroed = GoBinary::parse(bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(zeroed.text_start, bin.text_start, "{label}");
        assert_eq!(zeroed.gofunc, bin.gofunc, "{label}");
        check_against_objdump(fx, b, &zeroed);
        eprintln!("{label:<28} ok: moduledata found through relocations");
    }
}

#[test]
fn address_mapping() {
    let fx = fixtures();
    for b in &fx.builds {
        let label = fx.label(b);
        let bin = parse(fx, b);
        let elf = ElfFile64::<object::Endianness>::parse(b.bytes.as_slice())
            .expect("object parses fixture");
        let first = elf
            .segments()
            .find(|s| s.file_range().0 == 0)
            .expect("segment at offset 0");
        assert_eq!(bin.first_load_vaddr(), first.address(), "{label}");
        let main = bin.function("main.main").expect("main.main");
        let off = bin
            .vaddr_to_file_offset(main.entry)
            .expect("main.main file offset") as usize;
        let len = (main.end - main.entry) as usize;
        assert_eq!(
            bin.text_bytes(main.entry, len as u64),
            b.bytes.get(off..off + len),
            "{label}"
        );
        // Data is not text; addresses outside the file are not mapped.
        let bi_addr = bin
            .elf
            .segments
            .iter()
            .find(|s| s.is_writable())
            .map(|s| s.vaddr)
            .expect("data segment");
        assert_eq!(bin.text_bytes(bi_addr, 4), None, "{label}");
        let unmapped = u64::MAX - 0x1000;
        assert_eq!(bin.vaddr_to_file_offset(unmapped), None, "{label}");
        assert!(bin.symbolize(unmapped).is_empty(), "{label}");
        assert!(
            bin.symbolize(bin.first_load_vaddr()).is_empty(),
            "{label}: ELF header is no function"
        );
        assert!(bin.func_at(main.end + 0x10_0000_0000).is_none(), "{label}");
        let prefixed = bin.functions_with_prefix("main.");
        assert!(prefixed.iter().any(|f| f.name == "main.main"), "{label}");
        assert!(
            prefixed.iter().all(|f| f.name.starts_with("main.")),
            "{label}"
        );
        assert!(
            prefixed.windows(2).all(|w| w[0].name <= w[1].name),
            "{label}"
        );
    }
}

/// Unwinds the runtime's own stack sample like the tracer will: symbolize
/// each physical return address minus one, expand inlined frames, and
/// compare with `runtime.CallersFrames` (function, full file path, line).
/// The fixture's stack has two inlined levels (inlinedInner and
/// inlinedMiddle inside outerWalker), so this checks the parentPc walk and
/// the call-site lines of outer frames, not just the innermost position.
#[test]
fn symbolize_matches_runtime_callers_frames() {
    let fx = fixtures();
    for b in &fx.builds {
        let Some(st) = &b.runtime_stack else { continue };
        let label = fx.label(b);
        let bin = parse(fx, b);
        let callers_here = bin.function("main.callersHere").expect("main.callersHere");
        let bias = st.entry.wrapping_sub(callers_here.entry);
        assert_eq!(bias == 0, !b.flavour.is_pie(), "{label}: bias {bias:#x}");
        let mut ours: Vec<(String, String, u32)> = Vec::new();
        let mut i = 0;
        while i < st.pcs.len() {
            let frames = bin.symbolize(st.pcs[i].wrapping_sub(bias).wrapping_sub(1));
            assert!(
                !frames.is_empty(),
                "{label}: pc {:#x} not symbolized",
                st.pcs[i]
            );
            // runtime.Callers adds one pc per inlined frame of the same
            // physical frame: those must resolve to the outer frames.
            for (k, f) in frames.iter().enumerate().skip(1) {
                let marker = st.pcs.get(i + k).expect("runtime pc for inlined frame");
                let at = bin.symbolize(marker.wrapping_sub(bias).wrapping_sub(1));
                assert_eq!(at.first(), Some(f), "{label}: inline pc {marker:#x}");
            }
            i += frames.len();
            ours.extend(frames.into_iter().map(|f| (f.function, f.file, f.line)));
        }
        assert_eq!(ours, st.frames, "{label}");
        let inlined: Vec<&str> = ours.iter().take(4).map(|f| f.0.as_str()).collect();
        assert_eq!(
            inlined,
            [
                "main.callersHere",
                "main.inlinedInner",
                "main.inlinedMiddle",
                "main.outerWalker"
            ],
            "{label}"
        );
        eprintln!(
            "{label:<28} ok: {} frames equal runtime.CallersFrames (bias {bias:#x})",
            ours.len()
        );
    }
}
