//! Comparison primitives: each compares one table number with the DWARF of
//! the fixture (or a fact from the Go sources) and records a readable
//! failure naming version, table field, Go entity, table value and truth.

use super::dwarf::{DwarfIndex, Struct};

pub struct Checker<'a> {
    /// e.g. "go1.24.11".
    pub version: &'a str,
    pub dwarf: &'a DwarfIndex,
    pub failures: Vec<String>,
    /// Number of comparisons made (a passing run with few checks is suspect).
    pub checked: usize,
}

impl<'a> Checker<'a> {
    pub fn new(version: &'a str, dwarf: &'a DwarfIndex) -> Self {
        Checker {
            version,
            dwarf,
            failures: Vec::new(),
            checked: 0,
        }
    }

    pub fn fail(&mut self, what: &str, msg: impl std::fmt::Display) {
        self.failures
            .push(format!("{} {what}: {msg}", self.version));
    }

    /// The first of `names` that is a struct in the DWARF (generic
    /// instantiations sometimes only exist as their `go.shape` variant).
    fn find_struct(&mut self, what: &str, names: &[&str]) -> Option<(String, &'a Struct)> {
        let dwarf = self.dwarf;
        let found = names
            .iter()
            .find_map(|n| dwarf.structs.get(*n).map(|s| (n.to_string(), s)));
        if found.is_none() {
            self.fail(what, format!("no struct {names:?} in DWARF"));
        }
        found
    }

    /// Table offset `table` of `what` must be the offset of `member` in `structs`.
    pub fn member(&mut self, what: &str, structs: &[&str], member: &str, table: u64) {
        self.opt_member(what, structs, member, Some(table));
    }

    /// Like [`Self::member`]; `None` asserts that the member does not exist.
    pub fn opt_member(&mut self, what: &str, structs: &[&str], member: &str, table: Option<u64>) {
        let Some((sname, st)) = self.find_struct(what, structs) else {
            return;
        };
        self.checked += 1;
        match (table, st.member(member)) {
            (Some(t), Some(Some(d))) if t == d => {}
            (Some(t), Some(Some(d))) => self.fail(
                what,
                format!("table says {t}, DWARF offset of {sname}.{member} is {d}"),
            ),
            (Some(_), Some(None)) => self.fail(
                what,
                format!("{sname}.{member} has no data_member_location"),
            ),
            (Some(t), None) => self.fail(
                what,
                format!("table says {t}, but {sname} has no member {member}"),
            ),
            (None, None) => {}
            (None, Some(d)) => self.fail(
                what,
                format!("table says absent, but {sname}.{member} exists (offset {d:?})"),
            ),
        }
    }

    /// Byte size of the type of `member` (e.g. 2 for a `uint16`, 8·n for
    /// an `[n]uint64`) in the first of `structs` found.
    pub fn member_size(&mut self, what: &str, structs: &[&str], member: &str, table: u64) {
        let Some((sname, st)) = self.find_struct(what, structs) else {
            return;
        };
        self.checked += 1;
        match st.member_size(member) {
            Some(d) if d == table => {}
            Some(d) => self.fail(
                what,
                format!("table says {table} bytes, DWARF type of {sname}.{member} is {d} bytes"),
            ),
            None => self.fail(
                what,
                format!("table says {table} bytes, but {sname}.{member} has no sized type"),
            ),
        }
    }

    /// A function must be in the DWARF (with its parameters).
    pub fn func(&mut self, what: &str, name: &str) {
        self.checked += 1;
        if !self.dwarf.funcs.contains_key(name) {
            self.fail(what, format!("no function {name} in DWARF"));
        }
    }

    /// `unsafe.Sizeof` of the first of `structs` found.
    pub fn size(&mut self, what: &str, structs: &[&str], table: u64) {
        let Some((sname, st)) = self.find_struct(what, structs) else {
            return;
        };
        self.checked += 1;
        if st.size != Some(table) {
            self.fail(
                what,
                format!(
                    "table says size {table}, DWARF size of {sname} is {:?}",
                    st.size
                ),
            );
        }
    }

    /// Byte size of any named type.
    pub fn type_size(&mut self, what: &str, type_name: &str, table: u64) {
        self.checked += 1;
        match self.dwarf.type_sizes.get(type_name) {
            Some(&s) if s == table => {}
            found => self.fail(
                what,
                format!("table says {table}, DWARF size of type {type_name} is {found:?}"),
            ),
        }
    }

    /// The first of the constants `names` present must equal `table`.
    pub fn constant(&mut self, what: &str, names: &[&str], table: i64) {
        self.opt_constant(what, names, Some(table));
    }

    /// Like [`Self::constant`]; `None` asserts that none of `names` exists.
    pub fn opt_constant(&mut self, what: &str, names: &[&str], table: Option<i64>) {
        self.checked += 1;
        let found = names
            .iter()
            .find_map(|n| self.dwarf.consts.get(*n).map(|v| (*n, *v)));
        match (table, found) {
            (Some(t), Some((_, d))) if t == d => {}
            (Some(t), Some((n, d))) => {
                self.fail(what, format!("table says {t}, DWARF constant {n} = {d}"))
            }
            (Some(t), None) => self.fail(
                what,
                format!("table says {t}, but no constant {names:?} in DWARF"),
            ),
            (None, None) => {}
            (None, Some((n, d))) => self.fail(
                what,
                format!("table says absent, but DWARF has constant {n} = {d}"),
            ),
        }
    }

    /// A global variable must exist, with type `type_name`.
    pub fn var(&mut self, what: &str, name: &str, type_name: &str) {
        self.checked += 1;
        match self.dwarf.vars.get(name) {
            Some(Some(t)) if t == type_name => {}
            Some(t) => self.fail(
                what,
                format!("variable {name} has type {t:?}, expected {type_name}"),
            ),
            None => self.fail(what, format!("no variable {name} in DWARF")),
        }
    }

    /// A table value against a fact from elsewhere (sources, derived data).
    pub fn eq<T: PartialEq + std::fmt::Debug>(
        &mut self,
        what: &str,
        table: T,
        truth: T,
        source: &str,
    ) {
        self.checked += 1;
        if table != truth {
            self.fail(
                what,
                format!("table says {table:?}, {source} says {truth:?}"),
            );
        }
    }
}
