//! The bridge between a [`Symbolizer`] and its on-disk index (`decode/index/`): the facts an
//! ELF-backed symbolizer gathers for the index writer ([`Symbolizer::to_index`]), and a
//! symbolizer that answers from a verified index image ([`Symbolizer::from_index`]).
//!
//! Every precomputed answer is the ELF path's own: CFI rows come from the same gimli unwind
//! tables `cfi_row` reads, inline chains from `source_frames` itself at every address where a
//! chain may change, `is_stmt` starts from the same unit lookup and row scan as
//! `starts_stmt_row`. So a report is byte-identical whichever path decoded it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gimli::UnwindSection;

use super::{
    CfiRow, CfiSource, ElfBytes, ElfData, FdeEntry, MAX_LINE_ROWS, Reader, RegRule, SectionInfo,
    Symbolizer, debug_frame, eh_frame, owned_row,
};
use crate::decode::index::{self, Facts, FdeFacts, Index, IndexError, SectionFacts, SymbolFacts};

/// CFI rows indexed at most (all FDEs together).
const MAX_ROWS: usize = 4_000_000;
/// Addresses where an inline chain may change, at most.
const MAX_BOUNDARIES: usize = 8_000_000;
/// DWARF units walked at most.
const MAX_UNITS: usize = 200_000;
/// DIEs walked at most (all units together).
const MAX_DIES: usize = 50_000_000;

impl CfiRow {
    /// The register rules, in gimli's order.
    pub(crate) fn rules(&self) -> &[(u16, RegRule)] {
        &self.rules
    }
}

impl From<index::IndexedRow> for CfiRow {
    fn from(r: index::IndexedRow) -> CfiRow {
        CfiRow {
            cfa: r.cfa,
            ra_column: r.ra_column,
            rules: r.rules,
        }
    }
}

impl From<&index::IndexedSection> for SectionInfo {
    fn from(s: &index::IndexedSection) -> SectionInfo {
        SectionInfo {
            name: s.name.clone(),
            addr: s.addr,
            size: s.size,
            sh_type: s.sh_type,
            sh_flags: s.sh_flags,
            file_range: None,
        }
    }
}

fn too_large(what: &str) -> IndexError {
    IndexError::Unindexable(format!("too many {what}"))
}

impl Symbolizer {
    /// The index image of this ELF-backed symbolizer; `stamp` is stored for the caller to
    /// check when opening it (see [`Symbolizer::from_index`]). Costs a walk over every DWARF
    /// unit and CFI table: run it once per firmware version, off the decode path.
    pub fn to_index(&self, stamp: [u8; index::STAMP_LEN]) -> Result<Vec<u8>, IndexError> {
        if self.index.is_some() {
            return Err(IndexError::Unindexable("already an index".into()));
        }
        if self.dwarf.as_ref().is_some_and(|u| u.is_lazy()) {
            return Err(IndexError::Unindexable(
                "built with lazy DWARF units".into(),
            ));
        }
        let sections = self
            .sections
            .iter()
            .map(|s| SectionFacts {
                name: &s.name,
                addr: s.addr,
                size: s.size,
                sh_type: s.sh_type,
                sh_flags: s.sh_flags,
                code: s
                    .file_range
                    .filter(|_| s.is_exec())
                    .and_then(|(o, l)| self.elf.get(o..o.checked_add(l)?)),
            })
            .collect();
        fn symbols(syms: &[super::Sym]) -> Vec<SymbolFacts<'_>> {
            syms.iter()
                .map(|s| SymbolFacts {
                    addr: s.addr,
                    size: s.size,
                    name: &s.name,
                    is_func: s.is_func,
                })
                .collect()
        }
        let mut budget = MAX_ROWS;
        let fdes = self
            .fdes
            .iter()
            .map(|f| {
                Ok(FdeFacts {
                    start: f.start,
                    end: f.end,
                    rows: self.fde_rows(f, &mut budget)?,
                })
            })
            .collect::<Result<Vec<_>, IndexError>>()?;
        let facts = Facts {
            sha256: self.sha256,
            elf_len: u32::try_from(self.elf.len()).map_err(|_| too_large("ELF bytes"))?,
            arch: self.arch,
            has_dwarf: self.dwarf.is_some(),
            tcb: self.tcb.clone(),
            sections,
            symbols: symbols(&self.symbols),
            abs_symbols: symbols(&self.abs_symbols),
            fdes,
            boundaries: self.chain_boundaries()?,
            stmts: self.stmt_starts(),
        };
        index::write(&facts, stamp, |addr| self.source_frames(addr))
    }

    /// A symbolizer answering from an index image, after checking it (magic, version,
    /// length, CRC, tables) and, when given, its stamp. Holds the image and nothing else;
    /// [`Symbolizer::with_elf_dwarf`] adds the ELF's DWARF for frame variables.
    pub fn from_index(
        bytes: Vec<u8>,
        stamp: Option<&[u8; index::STAMP_LEN]>,
    ) -> Result<Symbolizer, IndexError> {
        let ix = Index::open(bytes)?;
        if stamp.is_some_and(|s| *s != ix.stamp()) {
            return Err(IndexError::Stale);
        }
        Ok(Symbolizer {
            elf: ElfBytes::new(Vec::new()),
            sha256: ix.elf_sha256(),
            arch: ix.arch(),
            sections: ix.sections().iter().map(SectionInfo::from).collect(),
            symbols: Vec::new(),
            abs_symbols: Vec::new(),
            dwarf: None,
            debug_frame: None,
            eh_frame: None,
            fdes: Vec::new(),
            tcb: ix.tcb().cloned(),
            stmt_cache: Mutex::new(HashMap::new()),
            approx_bytes: ix.len(),
            index: Some(ix),
        })
    }

    /// Adds the firmware ELF itself (mapped, see [`ElfData::map`]) to an indexed symbolizer:
    /// its DWARF, loaded a compile unit at a time as frames need it, gives the frames'
    /// arguments and locals, and its allocated sections the memory the dump lacks (strings in
    /// flash). Everything else still answers from the index. The ELF must be the one the index
    /// was built from: its length is checked against the index's record of it.
    pub fn with_elf_dwarf(mut self, elf: ElfData) -> Result<Symbolizer, IndexError> {
        let Some(ix) = &self.index else {
            return Err(IndexError::Unindexable("not an indexed symbolizer".into()));
        };
        if ix.elf_len() != elf.len() as u64 {
            return Err(IndexError::Stale);
        }
        let elf = ElfBytes(Arc::new(elf));
        let (_, layout) =
            super::layout(&elf).map_err(|e| IndexError::Unindexable(e.to_string()))?;
        self.dwarf = layout
            .dwarf
            .map(|d| super::Units::lazy(d, layout.dwarf_sections));
        self.sections = layout.sections;
        self.approx_bytes += elf.len();
        self.elf = elf;
        Ok(self)
    }

    /// Whether this symbolizer answers from an index image.
    pub fn is_indexed(&self) -> bool {
        self.index.is_some()
    }

    /// Every row of one FDE's CFI table, as `cfi_row` would find them.
    fn fde_rows(
        &self,
        f: &FdeEntry,
        budget: &mut usize,
    ) -> Result<Vec<(u64, u64, CfiRow)>, IndexError> {
        match f.source {
            CfiSource::DebugFrame => match self.debug_frame.as_ref() {
                Some(r) => {
                    let (section, bases) = debug_frame(r);
                    rows_of(&section, &bases, f.offset, budget)
                }
                None => Ok(Vec::new()),
            },
            CfiSource::EhFrame => match self.eh_frame.as_ref() {
                Some(r) => {
                    let (section, bases) = eh_frame(r);
                    rows_of(&section, &bases, f.offset, budget)
                }
                None => Ok(Vec::new()),
            },
        }
    }

    /// Every address where `source_frames` may change its answer: 0, the bounds of every
    /// `.debug_aranges` entry and of every DIE's address ranges, and every line-table row.
    fn chain_boundaries(&self) -> Result<Vec<u32>, IndexError> {
        let mut out = vec![0u32];
        let Some(dwarf) = self.dwarf.as_ref().map(|u| u.dwarf()) else {
            return Ok(out);
        };
        let mut push = |v: u64| -> Result<(), IndexError> {
            if let Ok(v) = u32::try_from(v) {
                if out.len() >= MAX_BOUNDARIES {
                    return Err(too_large("address ranges"));
                }
                out.push(v);
            }
            Ok(())
        };
        let mut headers = dwarf.debug_aranges.headers();
        while let Ok(Some(h)) = headers.next() {
            let mut entries = h.entries();
            while let Ok(Some(a)) = entries.next() {
                let r = a.range();
                push(r.begin)?;
                push(r.end)?;
            }
        }
        let mut units = dwarf.units();
        let (mut n_units, mut n_dies) = (0usize, 0usize);
        while let Ok(Some(header)) = units.next() {
            n_units += 1;
            if n_units > MAX_UNITS {
                return Err(too_large("units"));
            }
            let Ok(unit) = dwarf.unit(header) else {
                continue;
            };
            let mut cursor = unit.entries();
            while let Ok(Some(entry)) = cursor.next_dfs() {
                n_dies += 1;
                if n_dies > MAX_DIES {
                    return Err(too_large("DIEs"));
                }
                if let Ok(mut ranges) = dwarf.die_ranges(&unit, entry) {
                    while let Ok(Some(r)) = ranges.next() {
                        push(r.begin)?;
                        push(r.end)?;
                    }
                }
            }
            if let Some(program) = unit.line_program.clone() {
                let mut rows = program.rows();
                while let Ok(Some((_, row))) = rows.next_row() {
                    push(row.address())?;
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The addresses where `starts_stmt_row` is true: an `is_stmt` row (not an end of
    /// sequence) among the first `MAX_LINE_ROWS` rows of the unit addr2line finds for it.
    fn stmt_starts(&self) -> Vec<u32> {
        let Some(all) = self.dwarf.as_ref() else {
            return Vec::new();
        };
        let dwarf = all.dwarf();
        let mut candidates: Vec<(u32, gimli::UnitSectionOffset)> = Vec::new();
        let mut units = dwarf.units();
        let mut n_units = 0usize;
        while let Ok(Some(header)) = units.next() {
            n_units += 1;
            if n_units > MAX_UNITS {
                break;
            }
            let offset = header.offset();
            let Ok(unit) = dwarf.unit(header) else {
                continue;
            };
            let Some(program) = unit.line_program.clone() else {
                continue;
            };
            let mut rows = program.rows();
            let mut steps = 0usize;
            while let Ok(Some((_, row))) = rows.next_row() {
                steps += 1;
                if steps > MAX_LINE_ROWS || candidates.len() >= MAX_BOUNDARIES {
                    break;
                }
                if !row.end_sequence()
                    && row.is_stmt()
                    && let Ok(a) = u32::try_from(row.address())
                {
                    candidates.push((a, offset));
                }
            }
        }
        candidates.sort_unstable_by_key(|c| c.0);
        // The whole-file index (`to_index` refuses a lazy symbolizer): every context found
        // is the one addr2line has for the whole file, with the file's unit offsets.
        all.with(&[], |lookup| {
            let mut out: Vec<u32> = Vec::new();
            for group in candidates.chunk_by(|a, b| a.0 == b.0) {
                let Some(&(addr, _)) = group.first() else {
                    continue;
                };
                let Some(found) = lookup
                    .context(u64::from(addr))
                    .and_then(|ctx| ctx.find_dwarf_and_unit(u64::from(addr)).skip_all_loads())
                    .map(|u| u.unit.header.offset())
                else {
                    continue;
                };
                if group.iter().any(|&(_, o)| o == found) {
                    out.push(addr);
                }
            }
            out
        })
    }
}

fn rows_of<S: UnwindSection<Reader>>(
    section: &S,
    bases: &gimli::BaseAddresses,
    offset: usize,
    budget: &mut usize,
) -> Result<Vec<(u64, u64, CfiRow)>, IndexError>
where
    S::Offset: gimli::UnwindOffset<usize>,
{
    let Ok(fde) = section.fde_from_offset(bases, S::Offset::from(offset), S::cie_from_offset)
    else {
        return Ok(Vec::new());
    };
    let ra_column = fde.cie().return_address_register().0;
    let mut ctx = gimli::UnwindContext::new();
    let Ok(mut table) = fde.rows(section, bases, &mut ctx) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    while let Ok(Some(row)) = table.next_row() {
        *budget = budget.checked_sub(1).ok_or_else(|| too_large("CFI rows"))?;
        out.push((
            row.start_address(),
            row.end_address(),
            owned_row(row, ra_column),
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "indexed_tests.rs"]
mod tests;
