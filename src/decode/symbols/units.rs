//! DWARF of one firmware ELF, compile unit by compile unit: either addr2line's index of the
//! whole file, built once (the server keeps such symbolizers and decodes many dumps with them),
//! or each compile unit on its first use, found through `.debug_aranges` (`crashbox decode`
//! needs only the few units the dump's PCs are in, and pays for no others).
//!
//! A lazily loaded unit gets its own addr2line context over a `.debug_info` that holds just
//! that unit, so everything downstream (inline chains, lines, the frame variables of
//! `values/`) asks addr2line and gimli exactly as in the whole-file case. That is only sound
//! when the unit refers to no other unit by section offset (`DW_FORM_ref_addr`, used with LTO)
//! and every unit has an `.debug_aranges` set; otherwise the whole-file index is used.

use std::sync::{Mutex, MutexGuard, OnceLock};

use gimli::{DebugInfoOffset, SectionId};

use super::Reader;

type Context = addr2line::Context<Reader>;

/// Address ranges listed in `.debug_aranges` before the lazy mode gives up (and indexes the
/// whole file instead).
const MAX_ARANGES: usize = 1_000_000;
/// Ranges starting below an address that are checked for covering it (they may overlap).
const ARANGE_LOOKBACK: usize = 16;
/// Units of `.debug_info` counted when checking that `.debug_aranges` lists them all.
const MAX_UNITS: usize = 1_000_000;
/// Abbreviation declarations checked for forms that point into other units.
const MAX_ABBREV_CODES: usize = 100_000;
/// Attributes of one abbreviation declaration read for that check.
const MAX_ABBREV_ATTRS: usize = 1_000;

/// How the DWARF of one ELF is reached.
pub(crate) struct Units {
    /// Every section of the ELF, as loaded for the whole file.
    dwarf: std::sync::Arc<gimli::Dwarf<Reader>>,
    /// The readers `dwarf` was loaded from, to load one unit alone.
    sections: Vec<(SectionId, Reader)>,
    lazy: Option<Lazy>,
    /// addr2line's index of every unit: built at once without a lazy mode, else only when a
    /// loaded unit turns out to need the other units.
    whole: OnceLock<Option<Mutex<Context>>>,
}

struct Lazy {
    /// `(start, end, unit offset)`, sorted by start.
    ranges: Vec<(u64, u64, usize)>,
    /// Units loaded so far, by offset; `None`: the unit cannot stand alone.
    loaded: Mutex<Vec<(usize, Option<Context>)>>,
}

/// The contexts the frames of one decode need, held for the length of a [`Units::with`] call.
pub(crate) enum Lookup<'c> {
    Whole(&'c Context),
    Lazy {
        ranges: &'c [(u64, u64, usize)],
        loaded: &'c [(usize, Option<Context>)],
    },
    None,
}

impl Lookup<'_> {
    /// The addr2line context whose units cover `probe`, if any.
    pub fn context(&self, probe: u64) -> Option<&Context> {
        match self {
            Lookup::Whole(ctx) => Some(ctx),
            Lookup::Lazy { ranges, loaded } => {
                let off = unit_at(ranges, probe)?;
                loaded
                    .iter()
                    .find(|(o, _)| *o == off)
                    .and_then(|(_, c)| c.as_ref())
            }
            Lookup::None => None,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The unit whose `.debug_aranges` set covers `probe`: among the [`ARANGE_LOOKBACK`] ranges
/// starting last at or below it (GCC's do not overlap), the one of the lowest unit offset.
fn unit_at(ranges: &[(u64, u64, usize)], probe: u64) -> Option<usize> {
    let end = ranges.partition_point(|r| r.0 <= probe);
    ranges
        .get(..end)?
        .iter()
        .rev()
        .take(ARANGE_LOOKBACK)
        .filter(|r| probe < r.1)
        .map(|r| r.2)
        .min()
}

impl Units {
    /// Indexes every unit now (what the server's cached symbolizers do).
    pub fn whole(
        dwarf: std::sync::Arc<gimli::Dwarf<Reader>>,
        sections: Vec<(SectionId, Reader)>,
    ) -> Units {
        let units = Units {
            dwarf,
            sections,
            lazy: None,
            whole: OnceLock::new(),
        };
        units.whole_context();
        units
    }

    /// Loads each unit on first use when `.debug_aranges` lists every unit; else as
    /// [`Units::whole`].
    pub fn lazy(
        dwarf: std::sync::Arc<gimli::Dwarf<Reader>>,
        sections: Vec<(SectionId, Reader)>,
    ) -> Units {
        match aranges(&dwarf) {
            Some(ranges) => Units {
                dwarf,
                sections,
                lazy: Some(Lazy {
                    ranges,
                    loaded: Mutex::new(Vec::new()),
                }),
                whole: OnceLock::new(),
            },
            None => Units::whole(dwarf, sections),
        }
    }

    /// The whole file's sections.
    pub fn dwarf(&self) -> &gimli::Dwarf<Reader> {
        &self.dwarf
    }

    /// Whether units are loaded one at a time.
    pub fn is_lazy(&self) -> bool {
        self.lazy.is_some()
    }

    /// The unit at `off` of the whole file (for a search inside one unit).
    pub fn unit(&self, off: usize) -> Option<gimli::Unit<Reader>> {
        let header = self
            .dwarf
            .debug_info
            .header_from_offset(DebugInfoOffset(off))
            .ok()?;
        self.dwarf.unit(header).ok()
    }

    fn whole_context(&self) -> Option<&Mutex<Context>> {
        self.whole
            .get_or_init(|| {
                Context::from_arc_dwarf(self.dwarf.clone())
                    .ok()
                    .map(Mutex::new)
            })
            .as_ref()
    }

    /// The offset of the unit covering `probe` (lazy mode only).
    pub fn unit_offset(&self, probe: u64) -> Option<usize> {
        unit_at(&self.lazy.as_ref()?.ranges, probe)
    }

    /// Runs `f` with the whole-file context (locked for the call).
    fn with_whole<T>(&self, f: impl FnOnce(&Lookup<'_>) -> T) -> T {
        match self.whole_context() {
            Some(m) => f(&Lookup::Whole(&lock(m))),
            None => f(&Lookup::None),
        }
    }

    /// Runs `f` with the contexts covering `probes` loaded (and locked for the call).
    pub fn with<T>(&self, probes: &[u64], f: impl FnOnce(&Lookup<'_>) -> T) -> T {
        let Some(lazy) = &self.lazy else {
            return self.with_whole(f);
        };
        let mut loaded = lock(&lazy.loaded);
        let mut needs_whole = false;
        for &probe in probes {
            let Some(off) = unit_at(&lazy.ranges, probe) else {
                continue;
            };
            let ctx = match loaded.iter().find(|(o, _)| *o == off) {
                Some((_, c)) => c.is_some(),
                None => {
                    let c = self.load(off);
                    let ok = c.is_some();
                    loaded.push((off, c));
                    ok
                }
            };
            needs_whole |= !ctx;
        }
        if needs_whole {
            drop(loaded);
            return self.with_whole(f);
        }
        f(&Lookup::Lazy {
            ranges: &lazy.ranges,
            loaded: &loaded,
        })
    }

    /// An addr2line context over the unit at `off` alone, if it stands alone.
    fn load(&self, off: usize) -> Option<Context> {
        let header = self
            .dwarf
            .debug_info
            .header_from_offset(DebugInfoOffset(off))
            .ok()?;
        let abbrev = section(&self.sections, SectionId::DebugAbbrev)?;
        if refers_to_other_units(&abbrev, header.debug_abbrev_offset().0) {
            return None;
        }
        let len = header.length_including_self();
        let end = off.checked_add(len)?;
        let info = section(&self.sections, SectionId::DebugInfo)?;
        if end > gimli::Reader::len(&info) {
            return None;
        }
        let mut one = info;
        gimli::Reader::skip(&mut one, off).ok()?;
        gimli::Reader::truncate(&mut one, len).ok()?;
        let sliced = gimli::Dwarf::load(|id| -> Result<Reader, gimli::Error> {
            Ok(match id {
                SectionId::DebugInfo => one.clone(),
                SectionId::DebugAranges => empty(&one),
                _ => section(&self.sections, id).unwrap_or_else(|| empty(&one)),
            })
        })
        .ok()?;
        Context::from_dwarf(sliced).ok()
    }
}

fn empty(r: &Reader) -> Reader {
    let mut e = r.clone();
    gimli::Reader::empty(&mut e);
    e
}

fn section(sections: &[(SectionId, Reader)], id: SectionId) -> Option<Reader> {
    sections
        .iter()
        .find(|(s, _)| *s == id)
        .map(|(_, r)| r.clone())
}

/// The whole file's DWARF from its section readers (missing sections are empty).
pub(crate) fn load(
    sections: &[(SectionId, Reader)],
) -> Result<std::sync::Arc<gimli::Dwarf<Reader>>, gimli::Error> {
    let any = sections.first().map(|(_, r)| empty(r));
    let d = gimli::Dwarf::load(|id| -> Result<Reader, gimli::Error> {
        section(sections, id)
            .or_else(|| any.clone())
            .ok_or(gimli::Error::Io)
    })?;
    Ok(std::sync::Arc::new(d))
}

/// Whether the abbreviation table at `offset` of `.debug_abbrev` uses a form that points into
/// another unit by section offset (`DW_FORM_ref_addr`, the GNU alternate-file forms) or may
/// (`DW_FORM_indirect`), which a unit loaded alone could not resolve. Read raw, so that codes
/// after a gap are seen too; an unreadable table counts as referring.
fn refers_to_other_units(debug_abbrev: &Reader, offset: usize) -> bool {
    use gimli::Reader as _;
    let mut r = debug_abbrev.clone();
    if r.skip(offset).is_err() {
        return true;
    }
    for _ in 0..MAX_ABBREV_CODES {
        let Ok(code) = r.read_uleb128() else {
            return true;
        };
        if code == 0 {
            return false;
        }
        // The tag and the children flag.
        if r.read_uleb128().is_err() || r.read_u8().is_err() {
            return true;
        }
        for _ in 0..MAX_ABBREV_ATTRS {
            let (Ok(name), Ok(form)) = (r.read_uleb128(), r.read_uleb128()) else {
                return true;
            };
            if name == 0 && form == 0 {
                break;
            }
            let form = gimli::DwForm(u16::try_from(form).unwrap_or(u16::MAX));
            if form == gimli::DW_FORM_implicit_const && r.read_sleb128().is_err() {
                return true;
            }
            if matches!(
                form,
                gimli::DW_FORM_ref_addr
                    | gimli::DW_FORM_indirect
                    | gimli::DW_FORM_GNU_ref_alt
                    | gimli::DW_FORM_GNU_strp_alt
            ) {
                return true;
            }
        }
    }
    true
}

/// Every `.debug_aranges` range with its unit, sorted; `None` when some unit of
/// `.debug_info` has no set there (gcc lists every unit; a missing one makes the lazy lookup
/// unsound) or the section is unreadable.
fn aranges(dwarf: &gimli::Dwarf<Reader>) -> Option<Vec<(u64, u64, usize)>> {
    let mut ranges = Vec::new();
    let mut listed = Vec::new();
    let mut headers = dwarf.debug_aranges.headers();
    while let Some(h) = headers.next().ok()? {
        if listed.len() >= MAX_UNITS {
            return None;
        }
        listed.push(h.debug_info_offset().0);
        let mut entries = h.entries();
        while let Some(e) = entries.next().ok()? {
            let r = e.range();
            if r.end > r.begin {
                ranges.push((r.begin, r.end, h.debug_info_offset().0));
            }
            if ranges.len() > MAX_ARANGES {
                return None;
            }
        }
    }
    listed.sort_unstable();
    listed.dedup();
    let mut units = dwarf.units();
    let mut n = 0usize;
    while let Some(h) = units.next().ok()? {
        n += 1;
        if n > MAX_UNITS {
            return None;
        }
        let off = h.offset().0;
        if listed.binary_search(&off).is_err() {
            return None;
        }
    }
    ranges.sort_unstable();
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::{refers_to_other_units, unit_at};
    use crate::decode::symbols::{ElfBytes, Reader};

    fn reader(bytes: &[u8]) -> Reader {
        gimli::EndianReader::new(ElfBytes::from_vec(bytes.to_vec()), gimli::LittleEndian)
    }

    #[test]
    fn forms_pointing_into_other_units_are_found_after_a_gap_in_the_codes() {
        // code 1: compile_unit, children, name/strp; code 7 (after a gap): variable, no
        // children, an implicit_const, then type with `form`; end of table.
        let table = |form: u8| -> Vec<u8> {
            vec![
                1, 0x11, 1, 0x03, 0x0e, 0, 0, //
                7, 0x34, 0, 0x0b, 0x21, 0x7f, 0x49, form, 0, 0, //
                0,
            ]
        };
        assert!(
            !refers_to_other_units(&reader(&table(0x13)), 0),
            "ref4 is unit-local"
        );
        assert!(refers_to_other_units(&reader(&table(0x10)), 0), "ref_addr");
        assert!(refers_to_other_units(&reader(&table(0x16)), 0), "indirect");
        // Offsets point at the unit's own table; a truncated table counts as referring.
        let mut two = vec![0u8];
        two.extend(table(0x13));
        assert!(!refers_to_other_units(&reader(&two), 1));
        assert!(refers_to_other_units(&reader(&table(0x13)[..9]), 0));
        assert!(refers_to_other_units(&reader(&[]), 5));
    }

    #[test]
    fn the_unit_covering_an_address_is_found_among_overlapping_ranges() {
        let ranges = [(0x10, 0x20, 7), (0x18, 0x40, 3), (0x50, 0x60, 9)];
        assert_eq!(unit_at(&ranges, 0x10), Some(7));
        assert_eq!(unit_at(&ranges, 0x1c), Some(3));
        assert_eq!(unit_at(&ranges, 0x30), Some(3));
        assert_eq!(unit_at(&ranges, 0x40), None);
        assert_eq!(unit_at(&ranges, 0x5f), Some(9));
        assert_eq!(unit_at(&ranges, 0x0f), None);
        assert_eq!(unit_at(&[], 0), None);
    }
}
