//! The parts of a Go binary's DWARF the layout checks need: struct members
//! and sizes, named type sizes, constants, global variables and function
//! parameters, indexed by their Go names.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use gimli::{AttributeValue, EndianSlice, LittleEndian, Section, Unit};
use object::{Object, ObjectSection};

type R<'a> = EndianSlice<'a, LittleEndian>;

#[derive(Debug, Default)]
pub struct Struct {
    pub size: Option<u64>,
    /// (member name, DW_AT_data_member_location), in declaration order.
    pub members: Vec<(String, Option<u64>)>,
    /// Member name → byte size of its type, where known.
    pub member_sizes: HashMap<String, u64>,
}

impl Struct {
    pub fn member(&self, name: &str) -> Option<Option<u64>> {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, off)| *off)
    }

    /// Byte size of the type of member `name` (`None` if there is no such
    /// member or its size is unknown).
    pub fn member_size(&self, name: &str) -> Option<u64> {
        self.member_sizes.get(name).copied()
    }
}

#[derive(Debug)]
pub struct Param {
    pub name: String,
    /// Byte size of the parameter's type.
    pub size: Option<u64>,
    /// Go marks results with DW_AT_variable_parameter.
    pub is_result: bool,
}

#[derive(Debug, Default)]
pub struct DwarfIndex {
    pub structs: HashMap<String, Struct>,
    /// Byte size of every named type (struct, base type, typedef target...).
    pub type_sizes: HashMap<String, u64>,
    pub consts: HashMap<String, i64>,
    /// Global variable → name of its type.
    pub vars: HashMap<String, Option<String>>,
    /// Function → its formal parameters in order (first DIE with that name
    /// that has parameters: abstract and concrete instances agree).
    pub funcs: HashMap<String, Vec<Param>>,
}

/// What a DIE at `.debug_info` offset says about the type it describes.
#[derive(Default)]
struct TypeDie {
    name: Option<String>,
    size: Option<u64>,
    /// DW_AT_type, for typedefs whose size is that of the target.
    target: Option<usize>,
}

struct PendingParam {
    func: String,
    name: String,
    type_ref: Option<usize>,
    is_result: bool,
}

pub fn load(path: &std::path::Path) -> Result<DwarfIndex, String> {
    let data = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let obj = object::File::parse(&*data).map_err(|e| format!("parse {}: {e}", path.display()))?;
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'_, [u8]>, String> {
        match obj.section_by_name(id.name()) {
            // Compressed sections need the `compression` feature of object;
            // the fixture is linked with -compressdwarf=false instead.
            Some(s) => s
                .uncompressed_data()
                .map_err(|e| format!("section {}: {e}", id.name())),
            None => Ok(Cow::Borrowed(&[])),
        }
    })?;
    let dwarf = sections.borrow(|s| EndianSlice::new(s, LittleEndian));
    if dwarf.debug_info.reader().is_empty() {
        return Err(format!("{} has no .debug_info", path.display()));
    }
    build(&dwarf).map_err(|e| format!("DWARF of {}: {e}", path.display()))
}

fn build(dwarf: &gimli::Dwarf<R<'_>>) -> gimli::Result<DwarfIndex> {
    let mut idx = DwarfIndex::default();
    let mut types: HashMap<usize, TypeDie> = HashMap::new();
    let mut params: Vec<PendingParam> = Vec::new();
    // (struct, member, DW_AT_type) resolved once every type is known.
    let mut member_types: Vec<(String, String, Option<usize>)> = Vec::new();
    let mut var_types: Vec<(String, Option<usize>)> = Vec::new();
    let mut seen_funcs: HashSet<String> = HashSet::new();

    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        // Innermost struct / subprogram being read, with its depth.
        let mut in_struct: Option<(isize, String)> = None;
        // The function name is None for a second DIE of an already seen
        // function (abstract + concrete instances): its parameters repeat.
        let mut in_func: Option<(isize, Option<String>)> = None;
        let mut entries = unit.entries();
        while let Some(e) = entries.next_dfs()? {
            let depth = e.depth();
            if in_struct.as_ref().is_some_and(|(d, _)| depth <= *d) {
                in_struct = None;
            }
            if in_func.as_ref().is_some_and(|(d, _)| depth <= *d) {
                in_func = None;
            }
            let name = match e.attr_value(gimli::DW_AT_name) {
                Some(v) => Some(dwarf.attr_string(&unit, v)?.to_string_lossy().into_owned()),
                None => None,
            };
            let size = e
                .attr_value(gimli::DW_AT_byte_size)
                .and_then(|v| v.udata_value());
            let type_ref = e
                .attr_value(gimli::DW_AT_type)
                .and_then(|v| global_ref(&unit, v));
            let off = e.offset().to_debug_info_offset(&unit.header).map(|o| o.0);

            match e.tag() {
                gimli::DW_TAG_member => {
                    if let (Some((_, s)), Some(n)) = (&in_struct, name) {
                        let loc = e
                            .attr_value(gimli::DW_AT_data_member_location)
                            .and_then(|v| v.udata_value());
                        if let Some(st) = idx.structs.get_mut(s) {
                            member_types.push((s.clone(), n.clone(), type_ref));
                            st.members.push((n, loc));
                        }
                    }
                    continue;
                }
                gimli::DW_TAG_formal_parameter => {
                    if let (Some((d, Some(f))), Some(n)) = (&in_func, name) {
                        // Only the function's own parameters, not those of
                        // inlined calls nested in it.
                        if depth == d + 1 {
                            let is_result = matches!(
                                e.attr_value(gimli::DW_AT_variable_parameter),
                                Some(AttributeValue::Flag(true))
                            );
                            params.push(PendingParam {
                                func: f.clone(),
                                name: n,
                                type_ref,
                                is_result,
                            });
                        }
                    }
                    continue;
                }
                gimli::DW_TAG_constant => {
                    if let Some(n) = name {
                        if let Some(v) = e
                            .attr_value(gimli::DW_AT_const_value)
                            .and_then(|v| v.sdata_value())
                        {
                            idx.consts.entry(n).or_insert(v);
                        }
                    }
                    continue;
                }
                gimli::DW_TAG_variable if in_func.is_none() => {
                    if let Some(n) = name {
                        var_types.push((n, type_ref));
                    }
                    continue;
                }
                gimli::DW_TAG_subprogram => {
                    if let Some(n) = name {
                        let first = seen_funcs.insert(n.clone());
                        in_func = Some((depth, first.then_some(n)));
                    }
                    continue;
                }
                gimli::DW_TAG_structure_type => {
                    if let Some(n) = &name {
                        if !idx.structs.contains_key(n) {
                            idx.structs.insert(
                                n.clone(),
                                Struct {
                                    size,
                                    ..Struct::default()
                                },
                            );
                            in_struct = Some((depth, n.clone()));
                        }
                    }
                }
                _ => {}
            }
            if let (Some(off), true) = (off, is_type_tag(e.tag())) {
                // A pointer's DW_AT_type is its pointee, not a typedef target.
                let (size, target) = if e.tag() == gimli::DW_TAG_pointer_type {
                    (size.or(Some(u64::from(unit.encoding().address_size))), None)
                } else {
                    (size, type_ref)
                };
                types.insert(off, TypeDie { name, size, target });
            }
        }
    }

    for t in types.values() {
        if let (Some(n), Some(s)) = (&t.name, size_of(&types, t)) {
            idx.type_sizes.entry(n.clone()).or_insert(s);
        }
    }
    for p in params {
        let list = idx.funcs.entry(p.func).or_default();
        let size = p
            .type_ref
            .and_then(|r| types.get(&r))
            .and_then(|t| size_of(&types, t));
        list.push(Param {
            name: p.name,
            size,
            is_result: p.is_result,
        });
    }
    for (s, m, r) in member_types {
        let size = r
            .and_then(|r| types.get(&r))
            .and_then(|t| size_of(&types, t));
        if let (Some(st), Some(size)) = (idx.structs.get_mut(&s), size) {
            st.member_sizes.insert(m, size);
        }
    }
    for (n, r) in var_types {
        let tname = r.and_then(|r| types.get(&r)).and_then(|t| t.name.clone());
        idx.vars.entry(n).or_insert(tname);
    }
    Ok(idx)
}

fn is_type_tag(tag: gimli::DwTag) -> bool {
    matches!(
        tag,
        gimli::DW_TAG_base_type
            | gimli::DW_TAG_structure_type
            | gimli::DW_TAG_typedef
            | gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_array_type
            | gimli::DW_TAG_subroutine_type
            | gimli::DW_TAG_unspecified_type
    )
}

/// Size of a type, following typedef-like chains (bounded against cycles).
fn size_of(types: &HashMap<usize, TypeDie>, t: &TypeDie) -> Option<u64> {
    let mut cur = t;
    for _ in 0..16 {
        if let Some(s) = cur.size {
            return Some(s);
        }
        cur = types.get(&cur.target?)?;
    }
    None
}

fn global_ref(unit: &Unit<R<'_>>, v: AttributeValue<R<'_>>) -> Option<usize> {
    match v {
        AttributeValue::UnitRef(o) => o.to_debug_info_offset(&unit.header).map(|o| o.0),
        AttributeValue::DebugInfoRef(o) => Some(o.0),
        _ => None,
    }
}
