//! Writing an index image from the facts a [`Symbolizer`](crate::decode::Symbolizer) found in a
//! firmware ELF (gathered by `symbols/indexed.rs`). Pure: bytes out, no files.

use std::collections::HashMap;

use super::IndexError;
use super::format::{self, NONE, Table, rule_kind};
use crate::decode::chip::Arch;
use crate::decode::symbols::{CfiRow, RegRule, SourceFrame};
use crate::decode::tcb::TcbLayout;

/// Largest index written: every offset must fit a `u32`.
const MAX_INDEX_BYTES: usize = 1 << 31;

/// A section as the index keeps it.
pub(crate) struct SectionFacts<'a> {
    pub name: &'a str,
    pub addr: u32,
    pub size: u32,
    pub sh_type: u32,
    pub sh_flags: u32,
    /// The bytes of an executable PROGBITS section.
    pub code: Option<&'a [u8]>,
}

/// A symbol as the index keeps it.
pub(crate) struct SymbolFacts<'a> {
    pub addr: u32,
    pub size: u32,
    pub name: &'a str,
    pub is_func: bool,
}

/// One FDE with every row of its CFI table, in table order.
pub(crate) struct FdeFacts {
    pub start: u64,
    pub end: u64,
    pub rows: Vec<(u64, u64, CfiRow)>,
}

/// Everything written.
pub(crate) struct Facts<'a> {
    pub sha256: [u8; 32],
    /// Length of the ELF file.
    pub elf_len: u32,
    pub arch: Option<Arch>,
    pub has_dwarf: bool,
    pub tcb: Option<TcbLayout>,
    pub sections: Vec<SectionFacts<'a>>,
    pub symbols: Vec<SymbolFacts<'a>>,
    pub abs_symbols: Vec<SymbolFacts<'a>>,
    pub fdes: Vec<FdeFacts>,
    /// Addresses where the inline chain may change, sorted, deduplicated, starting at 0.
    pub boundaries: Vec<u32>,
    pub stmts: Vec<u32>,
}

#[derive(Default)]
struct Strings {
    bytes: Vec<u8>,
    seen: HashMap<String, u32>,
}

impl Strings {
    fn add(&mut self, s: &str) -> Result<u32, IndexError> {
        if let Some(&off) = self.seen.get(s) {
            return Ok(off);
        }
        let off = u32::try_from(self.bytes.len()).map_err(|_| IndexError::TooLarge)?;
        let len = u32::try_from(s.len()).map_err(|_| IndexError::TooLarge)?;
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(s.as_bytes());
        self.seen.insert(s.to_string(), off);
        Ok(off)
    }

    fn add_opt(&mut self, s: Option<&str>) -> Result<u32, IndexError> {
        s.map_or(Ok(NONE), |s| self.add(s))
    }
}

fn count(n: usize) -> Result<u32, IndexError> {
    u32::try_from(n).map_err(|_| IndexError::TooLarge)
}

fn arch_code(arch: Option<Arch>) -> u8 {
    match arch {
        None => 0,
        Some(Arch::Xtensa) => 1,
        Some(Arch::Riscv) => 2,
    }
}

fn meta(facts: &Facts<'_>) -> Vec<u8> {
    let mut m = vec![arch_code(facts.arch), u8::from(facts.has_dwarf), 0, 0];
    let t = facts
        .tcb
        .clone()
        .unwrap_or_else(|| TcbLayout::fallback(None));
    let flags = u8::from(facts.tcb.is_some())
        | u8::from(t.size.is_some()) << 1
        | u8::from(t.px_end_of_stack.is_some()) << 2
        | u8::from(t.ux_base_priority.is_some()) << 3;
    if let Some(f) = m.get_mut(2) {
        *f = flags;
    }
    for v in [
        t.size.unwrap_or(0),
        t.px_top_of_stack,
        t.ux_priority,
        t.px_stack,
        t.pc_task_name,
        t.name_len,
        t.px_end_of_stack.unwrap_or(0),
        t.ux_base_priority.unwrap_or(0),
    ] {
        m.extend_from_slice(&v.to_le_bytes());
    }
    m
}

fn rule_record(reg: u16, rule: RegRule, out: &mut Vec<u8>) {
    let (kind, value) = match rule {
        RegRule::Unspecified => (rule_kind::UNSPECIFIED, 0),
        RegRule::Undefined => (rule_kind::UNDEFINED, 0),
        RegRule::SameValue => (rule_kind::SAME_VALUE, 0),
        RegRule::Offset(o) => (rule_kind::OFFSET, o),
        RegRule::ValOffset(o) => (rule_kind::VAL_OFFSET, o),
        RegRule::Register(r) => (rule_kind::REGISTER, i64::from(r)),
        RegRule::Unsupported => (rule_kind::UNSUPPORTED, 0),
    };
    out.extend_from_slice(&reg.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(&[0; 5]);
    out.extend_from_slice(&value.to_le_bytes());
}

/// Writes the index image. `frames_at` answers the inline chain at a boundary (the ELF
/// symbolizer's own `source_frames`, so both paths give the same answers).
pub(crate) fn write(
    facts: &Facts<'_>,
    stamp: [u8; format::STAMP_LEN],
    mut frames_at: impl FnMut(u32) -> Vec<SourceFrame>,
) -> Result<Vec<u8>, IndexError> {
    let mut strings = Strings::default();
    let mut tables: Vec<Vec<u8>> = vec![Vec::new(); format::TABLE_COUNT];
    let mut put = |t: Table, bytes: Vec<u8>| {
        if let Some(slot) = tables.get_mut(t as usize) {
            *slot = bytes;
        }
    };
    put(Table::Meta, meta(facts));

    let mut code = Vec::new();
    let mut sections = Vec::new();
    for s in &facts.sections {
        let (off, len) = match s.code {
            Some(bytes) => {
                let off = count(code.len())?;
                code.extend_from_slice(bytes);
                (off, count(bytes.len())?)
            }
            None => (NONE, 0),
        };
        for v in [
            strings.add(s.name)?,
            s.addr,
            s.size,
            s.sh_type,
            s.sh_flags,
            off,
            len,
        ] {
            sections.extend_from_slice(&v.to_le_bytes());
        }
    }
    put(Table::Sections, sections);
    put(Table::Code, code);

    for (table, syms) in [
        (Table::Symbols, &facts.symbols),
        (Table::AbsSymbols, &facts.abs_symbols),
    ] {
        let mut out = Vec::with_capacity(syms.len() * format::SYMBOL_LEN);
        for s in syms {
            for v in [s.addr, s.size, strings.add(s.name)?, u32::from(s.is_func)] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        put(table, out);
    }

    let (mut fdes, mut rows, mut rules) = (Vec::new(), Vec::new(), Vec::new());
    let mut n_rows = 0usize;
    let mut n_rules = 0usize;
    for f in &facts.fdes {
        fdes.extend_from_slice(&f.start.to_le_bytes());
        fdes.extend_from_slice(&f.end.to_le_bytes());
        fdes.extend_from_slice(&count(n_rows)?.to_le_bytes());
        fdes.extend_from_slice(&count(f.rows.len())?.to_le_bytes());
        for (start, end, row) in &f.rows {
            let (kind, reg, off) = match row.cfa {
                Some((reg, off)) => (1u8, reg, off),
                None => (0, 0, 0),
            };
            rows.extend_from_slice(&start.to_le_bytes());
            rows.extend_from_slice(&end.to_le_bytes());
            rows.extend_from_slice(&off.to_le_bytes());
            rows.extend_from_slice(&count(n_rules)?.to_le_bytes());
            rows.extend_from_slice(&count(row.rules().len())?.to_le_bytes());
            rows.extend_from_slice(&reg.to_le_bytes());
            rows.extend_from_slice(&row.ra_column.to_le_bytes());
            rows.push(kind);
            rows.extend_from_slice(&[0; 3]);
            for &(reg, rule) in row.rules() {
                rule_record(reg, rule, &mut rules);
            }
            n_rules += row.rules().len();
        }
        n_rows += f.rows.len();
    }
    put(Table::Fdes, fdes);
    put(Table::CfiRows, rows);
    put(Table::CfiRules, rules);

    // Chains are deduplicated; each distinct chain's frames are stored as one run.
    type FrameKey = (u32, u32, Option<u32>);
    let mut chain_ids: HashMap<Vec<FrameKey>, u32> = HashMap::new();
    let (mut frames, mut chains, mut segments) = (Vec::new(), Vec::new(), Vec::new());
    let mut n_frames = 0usize;
    let mut last_chain = None;
    for &b in &facts.boundaries {
        let chain = frames_at(b);
        let id = if chain.is_empty() {
            NONE
        } else {
            let mut keys = Vec::with_capacity(chain.len());
            for f in &chain {
                keys.push((
                    strings.add_opt(f.function.as_deref())?,
                    strings.add_opt(f.file.as_deref())?,
                    f.line,
                ));
            }
            match chain_ids.get(&keys) {
                Some(&id) => id,
                None => {
                    let id = count(chain_ids.len())?;
                    chains.extend_from_slice(&count(n_frames)?.to_le_bytes());
                    chains.extend_from_slice(&count(keys.len())?.to_le_bytes());
                    for k in &keys {
                        for v in [k.0, k.1, k.2.unwrap_or(0), u32::from(k.2.is_some())] {
                            frames.extend_from_slice(&v.to_le_bytes());
                        }
                    }
                    n_frames += keys.len();
                    chain_ids.insert(keys, id);
                    id
                }
            }
        };
        if last_chain != Some(id) {
            segments.extend_from_slice(&b.to_le_bytes());
            segments.extend_from_slice(&id.to_le_bytes());
            last_chain = Some(id);
        }
    }
    put(Table::Segments, segments);
    put(Table::Chains, chains);
    put(Table::Frames, frames);
    put(
        Table::Stmts,
        facts.stmts.iter().flat_map(|a| a.to_le_bytes()).collect(),
    );
    put(Table::Strings, strings.bytes);
    assemble(facts.sha256, facts.elf_len, stamp, tables)
}

fn assemble(
    sha256: [u8; 32],
    elf_len: u32,
    stamp: [u8; format::STAMP_LEN],
    tables: Vec<Vec<u8>>,
) -> Result<Vec<u8>, IndexError> {
    let total = format::HEADER_LEN + tables.iter().map(Vec::len).sum::<usize>();
    if total > MAX_INDEX_BYTES {
        return Err(IndexError::TooLarge);
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&format::MAGIC);
    out.extend_from_slice(&format::FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(total as u64).to_le_bytes());
    out.extend_from_slice(&stamp);
    out.extend_from_slice(&sha256);
    out.extend_from_slice(&count(format::TABLE_COUNT)?.to_le_bytes());
    out.extend_from_slice(&elf_len.to_le_bytes());
    let mut off = format::HEADER_LEN;
    for t in &tables {
        out.extend_from_slice(&count(off)?.to_le_bytes());
        out.extend_from_slice(&count(t.len())?.to_le_bytes());
        off += t.len();
    }
    for t in tables {
        out.extend_from_slice(&t);
    }
    format::seal(&mut out);
    Ok(out)
}
