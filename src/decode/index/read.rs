//! [`Index`]: a verified index image and its lookups. Every read goes through bounds-checked
//! accessors; a lookup on inconsistent data answers "nothing" rather than panicking (the CRC
//! makes that a bug or a collision, never routine).

use std::ops::Range;

use super::IndexError;
use super::format::{self, NONE, Table, rule_kind};
use crate::decode::bytes::{slice_at, u16_at, u32_at};
use crate::decode::chip::Arch;
use crate::decode::symbols::{RegRule, SourceFrame};
use crate::decode::tcb::TcbLayout;

/// FDEs starting below an address that are checked for covering it (as the ELF path does).
const FDE_LOOKBACK: usize = 8;
/// Symbols starting below an address that are checked for covering it (as the ELF path does).
const SYMBOL_LOOKBACK: usize = 64;
/// Inline frames returned for one address (as the ELF path).
const MAX_INLINE_DEPTH: usize = 64;
/// `sh_flags` of code: `SHF_EXECINSTR | SHF_ALLOC`.
const SHF_CODE: u32 = (object::elf::SHF_EXECINSTR.0 | object::elf::SHF_ALLOC.0) as u32;

fn u64_at(data: &[u8], off: usize) -> Option<u64> {
    let b: [u8; 8] = slice_at(data, off, 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

fn i64_at(data: &[u8], off: usize) -> Option<i64> {
    u64_at(data, off).map(|v| v as i64)
}

/// A section record, decoded.
#[derive(Debug, Clone)]
pub(crate) struct IndexedSection {
    pub name: String,
    pub addr: u32,
    pub size: u32,
    pub sh_type: u32,
    pub sh_flags: u32,
    code: Option<(usize, usize)>,
}

impl IndexedSection {
    fn holds_code(&self, addr: u32) -> bool {
        self.sh_flags & SHF_CODE == SHF_CODE
            && addr >= self.addr
            && u64::from(addr) < u64::from(self.addr) + u64::from(self.size)
    }
}

/// A CFI row, decoded.
pub(crate) struct IndexedRow {
    pub cfa: Option<(u16, i64)>,
    pub ra_column: u16,
    pub rules: Vec<(u16, RegRule)>,
}

/// A verified index image.
pub struct Index {
    bytes: Vec<u8>,
    tables: [Range<usize>; format::TABLE_COUNT],
    sha256: [u8; 32],
    elf_len: u32,
    stamp: [u8; format::STAMP_LEN],
    arch: Option<Arch>,
    has_dwarf: bool,
    tcb: Option<TcbLayout>,
    sections: Vec<IndexedSection>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Index({} bytes)", self.bytes.len())
    }
}

/// Checks the header, length, CRC and table directory of an image.
fn directory(bytes: &[u8]) -> Result<[Range<usize>; format::TABLE_COUNT], IndexError> {
    if bytes.len() < format::HEADER_LEN {
        return Err(IndexError::Truncated);
    }
    if slice_at(bytes, 0, 8) != Some(&format::MAGIC[..]) {
        return Err(IndexError::NotAnIndex);
    }
    let version = u32_at(bytes, 8).ok_or(IndexError::Truncated)?;
    if version != format::FORMAT_VERSION {
        return Err(IndexError::Version(version));
    }
    let total = u64_at(bytes, format::LEN_AT).ok_or(IndexError::Truncated)?;
    if total != bytes.len() as u64 {
        return Err(IndexError::Truncated);
    }
    let crc = u32_at(bytes, format::CRC_AT).ok_or(IndexError::Truncated)?;
    if crc != format::checksum(bytes) {
        return Err(IndexError::Checksum);
    }
    let n = u32_at(bytes, format::COUNT_AT).ok_or(IndexError::Truncated)?;
    if n as usize != format::TABLE_COUNT {
        return Err(IndexError::Malformed("table count"));
    }
    let mut tables: [Range<usize>; format::TABLE_COUNT] = Default::default();
    for (i, t) in format::TABLES.iter().enumerate() {
        let at = format::DIR_AT + i * 8;
        let off = u32_at(bytes, at).ok_or(IndexError::Truncated)? as usize;
        let len = u32_at(bytes, at + 4).ok_or(IndexError::Truncated)? as usize;
        let end = off
            .checked_add(len)
            .ok_or(IndexError::Malformed("table bounds"))?;
        if off < format::HEADER_LEN || end > bytes.len() {
            return Err(IndexError::Malformed("table bounds"));
        }
        if format::record_len(*t).is_some_and(|r| !len.is_multiple_of(r)) {
            return Err(IndexError::Malformed("table length"));
        }
        if let Some(slot) = tables.get_mut(i) {
            *slot = off..end;
        }
    }
    Ok(tables)
}

impl Index {
    /// Verifies an image (magic, version, length, CRC, table bounds, meta and sections).
    pub fn open(bytes: Vec<u8>) -> Result<Index, IndexError> {
        let tables = directory(&bytes)?;
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(slice_at(&bytes, format::SHA_AT, 32).ok_or(IndexError::Truncated)?);
        let mut stamp = [0u8; format::STAMP_LEN];
        stamp.copy_from_slice(
            slice_at(&bytes, format::STAMP_AT, format::STAMP_LEN).ok_or(IndexError::Truncated)?,
        );
        let elf_len = u32_at(&bytes, format::ELF_LEN_AT).ok_or(IndexError::Truncated)?;
        let mut ix = Index {
            bytes,
            tables,
            sha256,
            elf_len,
            stamp,
            arch: None,
            has_dwarf: false,
            tcb: None,
            sections: Vec::new(),
        };
        ix.read_meta()?;
        ix.sections = ix.read_sections()?;
        Ok(ix)
    }

    fn table(&self, t: Table) -> &[u8] {
        self.tables
            .get(t as usize)
            .and_then(|r| self.bytes.get(r.clone()))
            .unwrap_or_default()
    }

    fn records(&self, t: Table) -> usize {
        format::record_len(t).map_or(0, |r| self.table(t).len() / r)
    }

    /// Record `i` of a record table.
    fn record(&self, t: Table, i: usize) -> Option<&[u8]> {
        let len = format::record_len(t)?;
        slice_at(self.table(t), i.checked_mul(len)?, len)
    }

    fn field(&self, t: Table, i: usize, at: usize) -> Option<u32> {
        u32_at(self.record(t, i)?, at)
    }

    fn string(&self, off: u32) -> Option<&str> {
        if off == NONE {
            return None;
        }
        let strings = self.table(Table::Strings);
        let len = u32_at(strings, off as usize)? as usize;
        std::str::from_utf8(slice_at(strings, (off as usize).checked_add(4)?, len)?).ok()
    }

    fn read_meta(&mut self) -> Result<(), IndexError> {
        let bad = || IndexError::Malformed("meta");
        let m = self.table(Table::Meta);
        if m.len() != format::META_LEN {
            return Err(bad());
        }
        let arch = match m.first() {
            Some(0) => None,
            Some(1) => Some(Arch::Xtensa),
            Some(2) => Some(Arch::Riscv),
            _ => return Err(bad()),
        };
        let has_dwarf = m.get(1).copied().ok_or_else(bad)? != 0;
        let flags = m.get(2).copied().ok_or_else(bad)?;
        let v = |i: usize| u32_at(m, 4 + 4 * i).ok_or_else(bad);
        let opt = |bit: u8, i: usize| -> Result<Option<u32>, IndexError> {
            Ok((flags & (1 << bit) != 0).then_some(v(i)?))
        };
        let tcb = if flags & 1 != 0 {
            Some(TcbLayout {
                size: opt(1, 0)?,
                px_top_of_stack: v(1)?,
                ux_priority: v(2)?,
                px_stack: v(3)?,
                pc_task_name: v(4)?,
                name_len: v(5)?,
                px_end_of_stack: opt(2, 6)?,
                ux_base_priority: opt(3, 7)?,
            })
        } else {
            None
        };
        self.arch = arch;
        self.has_dwarf = has_dwarf;
        self.tcb = tcb;
        Ok(())
    }

    fn read_sections(&self) -> Result<Vec<IndexedSection>, IndexError> {
        let bad = || IndexError::Malformed("section");
        let code_len = self.table(Table::Code).len();
        (0..self.records(Table::Sections))
            .map(|i| {
                let f = |at: usize| self.field(Table::Sections, i, at * 4).ok_or_else(bad);
                let name = self.string(f(0)?).ok_or_else(bad)?.to_string();
                let (off, len) = (f(5)?, f(6)? as usize);
                let code = if off == NONE {
                    None
                } else {
                    let off = off as usize;
                    if off.checked_add(len).is_none_or(|e| e > code_len) {
                        return Err(bad());
                    }
                    Some((off, len))
                };
                Ok(IndexedSection {
                    name,
                    addr: f(1)?,
                    size: f(2)?,
                    sh_type: f(3)?,
                    sh_flags: f(4)?,
                    code,
                })
            })
            .collect()
    }

    /// SHA-256 of the ELF the index was built from.
    pub fn elf_sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// Length of the ELF the index was built from.
    pub fn elf_len(&self) -> u64 {
        u64::from(self.elf_len)
    }

    /// The stamp given when the index was built.
    pub fn stamp(&self) -> [u8; format::STAMP_LEN] {
        self.stamp
    }

    /// Bytes of the image.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the image is empty (never, once opened).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn arch(&self) -> Option<Arch> {
        self.arch
    }

    pub(crate) fn has_dwarf(&self) -> bool {
        self.has_dwarf
    }

    pub(crate) fn tcb(&self) -> Option<&TcbLayout> {
        self.tcb.as_ref()
    }

    pub(crate) fn sections(&self) -> &[IndexedSection] {
        &self.sections
    }

    /// The code byte at `addr` (first executable section holding it, as the ELF path).
    pub(crate) fn code_byte(&self, addr: u32) -> Option<u8> {
        let s = self.sections.iter().find(|s| s.holds_code(addr))?;
        let (off, len) = s.code?;
        let rel = usize::try_from(addr - s.addr).ok()?;
        if rel >= len {
            return None;
        }
        self.table(Table::Code).get(off.checked_add(rel)?).copied()
    }

    /// Number of records of `t` whose start (read by `start`) is `<= key`.
    fn partition(&self, t: Table, key: u64, start: impl Fn(usize) -> Option<u64>) -> usize {
        let (mut lo, mut hi) = (0usize, self.records(t));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if start(mid).is_some_and(|s| s <= key) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn symbol(
        &self,
        t: Table,
        addr: u32,
        lookback: usize,
        covers: impl Fn(u32, u32, bool) -> bool,
    ) -> Option<(&str, u32)> {
        let idx = self.partition(t, u64::from(addr), |i| self.field(t, i, 0).map(u64::from));
        (0..idx).rev().take(lookback).find_map(|i| {
            let (a, size, name, func) = (
                self.field(t, i, 0)?,
                self.field(t, i, 4)?,
                self.field(t, i, 8)?,
                self.field(t, i, 12)? != 0,
            );
            // Sorted tables always start at or below `addr`; a damaged one may not.
            let off = addr.checked_sub(a)?;
            covers(a, size, func).then(|| Some((self.string(name)?, off)))?
        })
    }

    /// The address of the first function symbol named `name`, in address order (as the ELF
    /// path's linear search finds it).
    pub(crate) fn function_address(&self, name: &str) -> Option<u32> {
        let t = Table::Symbols;
        (0..self.records(t)).find_map(|i| {
            let func = self.field(t, i, 12)? != 0;
            (func && self.string(self.field(t, i, 8)?)? == name).then(|| self.field(t, i, 0))?
        })
    }

    /// Sized symbol containing `addr` (functions only when `funcs_only`).
    pub(crate) fn sized_symbol(&self, addr: u32, funcs_only: bool) -> Option<(&str, u32)> {
        self.symbol(Table::Symbols, addr, SYMBOL_LOOKBACK, |a, size, func| {
            (!funcs_only || func) && u64::from(addr) < u64::from(a) + u64::from(size)
        })
    }

    /// Nearest absolute symbol at or below `addr` within `max_dist` bytes.
    pub(crate) fn nearest_abs_symbol(&self, addr: u32, max_dist: u32) -> Option<(&str, u32)> {
        self.symbol(Table::AbsSymbols, addr, 1, |a, _, _| {
            addr.saturating_sub(a) <= max_dist
        })
    }

    /// Inline chain at `probe`, innermost first.
    pub(crate) fn source_frames(&self, probe: u32) -> Vec<SourceFrame> {
        let t = Table::Segments;
        let idx = self.partition(t, u64::from(probe), |i| self.field(t, i, 0).map(u64::from));
        let Some(chain) = idx.checked_sub(1).and_then(|i| self.field(t, i, 4)) else {
            return Vec::new();
        };
        if chain == NONE {
            return Vec::new();
        }
        let chain = chain as usize;
        let (Some(first), Some(n)) = (
            self.field(Table::Chains, chain, 0),
            self.field(Table::Chains, chain, 4),
        ) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in (first as usize..).take((n as usize).min(MAX_INLINE_DEPTH)) {
            let Some(rec) = self.record(Table::Frames, i) else {
                break;
            };
            let field = |at| u32_at(rec, at).unwrap_or(NONE);
            out.push(SourceFrame {
                function: self.string(field(0)).map(str::to_string),
                file: self.string(field(4)).map(str::to_string),
                line: (field(12) & 1 != 0).then(|| field(8)),
            });
        }
        out
    }

    /// Whether an `is_stmt` row starts at `addr`.
    pub(crate) fn starts_stmt_row(&self, addr: u32) -> bool {
        let t = Table::Stmts;
        let idx = self.partition(t, u64::from(addr), |i| self.field(t, i, 0).map(u64::from));
        idx.checked_sub(1)
            .and_then(|i| self.field(t, i, 0))
            .is_some_and(|a| a == addr)
    }

    /// The CFI row covering `addr`.
    pub(crate) fn cfi_row(&self, addr: u32) -> Option<IndexedRow> {
        let a = u64::from(addr);
        let fde_field = |i: usize, at: usize| u64_at(self.record(Table::Fdes, i)?, at);
        let idx = self.partition(Table::Fdes, a, |i| fde_field(i, 0));
        let fde = (0..idx)
            .rev()
            .take(FDE_LOOKBACK)
            .find(|&i| fde_field(i, 8).is_some_and(|end| a < end))?;
        let first = self.field(Table::Fdes, fde, 16)? as usize;
        let n = self.field(Table::Fdes, fde, 20)? as usize;
        for i in first..first.checked_add(n)? {
            let rec = self.record(Table::CfiRows, i)?;
            let (start, end) = (u64_at(rec, 0)?, u64_at(rec, 8)?);
            if start <= a && a < end {
                return self.row(rec);
            }
        }
        None
    }

    fn row(&self, rec: &[u8]) -> Option<IndexedRow> {
        let off = i64_at(rec, 16)?;
        let (first, n) = (u32_at(rec, 24)? as usize, u32_at(rec, 28)? as usize);
        let reg = u16_at(rec, 32)?;
        let ra_column = u16_at(rec, 34)?;
        let kind = *rec.get(36)?;
        let mut rules = Vec::with_capacity(n.min(64));
        for i in first..first.checked_add(n)? {
            let r = self.record(Table::CfiRules, i)?;
            let value = i64_at(r, 8)?;
            let rule = match *r.get(2)? {
                rule_kind::UNSPECIFIED => RegRule::Unspecified,
                rule_kind::UNDEFINED => RegRule::Undefined,
                rule_kind::SAME_VALUE => RegRule::SameValue,
                rule_kind::OFFSET => RegRule::Offset(value),
                rule_kind::VAL_OFFSET => RegRule::ValOffset(value),
                rule_kind::REGISTER => RegRule::Register(u16::try_from(value).ok()?),
                _ => RegRule::Unsupported,
            };
            rules.push((u16_at(r, 0)?, rule));
        }
        Some(IndexedRow {
            cfa: (kind == 1).then_some((reg, off)),
            ra_column,
            rules,
        })
    }
}
