//! Small helpers over `gimli::write` for the tests that build DWARF by hand.

use gimli::constants as dw;
use gimli::write::{AttributeValue as A, DwarfUnit, EndianVec, Expression, Sections, UnitEntryId};

/// A DIE under `parent` with attributes.
pub fn die(
    u: &mut DwarfUnit,
    parent: UnitEntryId,
    tag: gimli::DwTag,
    attrs: Vec<(gimli::DwAt, A)>,
) -> UnitEntryId {
    let id = u.unit.add(parent, tag);
    for (at, v) in attrs {
        u.unit.get_mut(id).set(at, v);
    }
    id
}

/// A location expression built by `f`.
pub fn expr(f: impl FnOnce(&mut Expression)) -> A {
    let mut e = Expression::new();
    f(&mut e);
    A::Exprloc(e)
}

/// `DW_AT_name` as an inline string.
pub fn name(s: &str) -> (gimli::DwAt, A) {
    (dw::DW_AT_name, A::String(s.as_bytes().to_vec()))
}

/// The non-empty sections of `u`, by name, for `AppElf::extra`.
pub fn sections_of(u: &mut DwarfUnit) -> Vec<(String, Vec<u8>)> {
    let mut sections = Sections::new(EndianVec::new(gimli::LittleEndian));
    u.write(&mut sections).unwrap();
    named(&sections)
}

/// The non-empty sections written into `sections`, by name.
pub fn named(sections: &Sections<EndianVec<gimli::LittleEndian>>) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    sections
        .for_each(|id, data| -> Result<(), gimli::write::Error> {
            if !data.slice().is_empty() {
                out.push((id.name().to_string(), data.slice().to_vec()));
            }
            Ok(())
        })
        .unwrap();
    out
}
