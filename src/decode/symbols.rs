//! [`Symbolizer`]: everything the decoder needs from one firmware ELF, parsed once.
//!
//! Built from the ELF bytes by [`Symbolizer::new`] (cost: one pass over the section and symbol
//! tables, the DWARF unit index, the `.debug_frame` FDE index and the FreeRTOS TCB layout);
//! after that, every lookup is a bisection or a lazily cached DWARF unit (addr2line keeps each
//! unit's lines and functions in once-cells). Keep it in a [`super::SymbolizerCache`].
//!
//! Provides: `<func+off>` from `.symtab`, file:line and inline chains from DWARF via
//! addr2line, the `is_stmt` test for gdb's frame-0 address rule, the RISC-V CFI rows from
//! `.debug_frame`/`.eh_frame` via gimli, code bytes for the Xtensa `ENTRY` test, the section
//! listing for "ALL MEMORY REGIONS" and the FreeRTOS TCB member offsets.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use gimli::{EndianReader, LittleEndian, UnwindSection};
use object::{Object, ObjectSection, ObjectSymbol, SectionIndex, SymbolKind, SymbolSection};
use sha2::{Digest, Sha256};

use super::chip::Arch;
use super::error::DecodeError;
use super::memory::last_covering;
use super::tcb::TcbLayout;

mod units;
pub(crate) use units::Lookup;
use units::Units;
mod indexed;

/// The firmware ELF bytes, shared by every DWARF/CFI reader without copying them (an
/// `Arc<[u8]>` would need a copy of the caller's `Vec`: 2.4 ms for a 3.7 MB ELF).
#[derive(Clone)]
pub(crate) struct ElfBytes(Arc<ElfData>);

/// An ELF's bytes: read into memory, or mapped from its file (see [`ElfData::map`]).
pub enum ElfData {
    /// Read into memory.
    Heap(Vec<u8>),
    /// Mapped from the file.
    Mapped(memmap2::Mmap),
}

impl ElfData {
    /// Maps `file` read-only: the pages the decoder touches are read from the page cache
    /// on demand, with no copy and no heap (`crashbox decode`; the parse workers' unpacked
    /// ELF beside a version's index). The file must not be truncated or rewritten in place
    /// while mapped.
    pub fn map(file: &std::fs::File) -> std::io::Result<ElfData> {
        if file.metadata()?.len() == 0 {
            return Ok(ElfData::Heap(Vec::new()));
        }
        // SAFETY: the mapping is read-only (shared with the page cache), and nothing in
        // crashbox writes to a mapped file: the unpacked ELFs are replaced by rename, never
        // rewritten. Like gdb, objdump and every tool that maps the files it reads, crashbox
        // asks that nobody else truncates or rewrites them in place while it runs (a
        // truncation, or a read error of the disk, raises SIGBUS).
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(ElfData::Mapped(map))
    }
}

impl Deref for ElfData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ElfData::Heap(v) => v,
            ElfData::Mapped(m) => m,
        }
    }
}

impl Deref for ElfBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl ElfBytes {
    fn new(v: Vec<u8>) -> ElfBytes {
        ElfBytes(Arc::new(ElfData::Heap(v)))
    }

    /// Bytes for unit tests of DWARF readers.
    #[cfg(test)]
    pub(crate) fn from_vec(v: Vec<u8>) -> ElfBytes {
        ElfBytes::new(v)
    }
}

impl std::fmt::Debug for ElfBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ElfBytes({} bytes)", self.len())
    }
}

// SAFETY: the bytes live in the heap buffer of a `Vec` or in a mapping, owned by the `Arc`;
// neither is mutated, resized, moved or dropped while a clone exists, so the slice `deref`
// returns has the same address across moves and clones of `ElfBytes`, which is what
// (Clone)StableDeref require.
unsafe impl gimli::StableDeref for ElfBytes {}
unsafe impl gimli::CloneStableDeref for ElfBytes {}

pub(crate) type Reader = EndianReader<LittleEndian, ElfBytes>;

/// An ELF section as listed in "ALL MEMORY REGIONS".
#[derive(Debug, Clone)]
pub(crate) struct SectionInfo {
    pub name: String,
    pub addr: u32,
    pub size: u32,
    pub sh_type: u32,
    pub sh_flags: u32,
    /// File range of the bytes (PROGBITS only).
    file_range: Option<(usize, usize)>,
}

/// `sh_flags` of code: executable and allocated (`SHF_EXECINSTR | SHF_ALLOC`, ELF gABI).
const SHF_CODE: u32 = (object::elf::SHF_EXECINSTR.0 | object::elf::SHF_ALLOC.0) as u32;
/// Address size of the 32-bit targets, which CIE version 3 of `.debug_frame` does not record
/// (gimli would otherwise assume the host's).
const ADDRESS_SIZE: u8 = 4;
/// Inline frames returned for one address.
const MAX_INLINE_DEPTH: usize = 64;
/// Addresses whose `is_stmt` answer is kept before the cache is cleared.
const STMT_CACHE_MAX: usize = 4096;
/// Line-table rows read for one `is_stmt` answer.
const MAX_LINE_ROWS: usize = 2_000_000;
/// CFI entries read when indexing the FDEs of one section.
const MAX_CFI_ENTRIES: usize = 1_000_000;
/// FDEs starting below an address that are checked for covering it.
const FDE_LOOKBACK: usize = 8;
/// Symbols starting below an address that are checked for covering it (they may nest).
const SYMBOL_LOOKBACK: usize = 64;
/// Prefix of RISC-V mapping symbols (`$x`, `$d`, `$xrv32i2p1_...`), which name no function.
const MAPPING_SYMBOL_PREFIX: char = '$';
/// Prefix of ESP-IDF's aliases of ROM functions (`esp_rom_printf` for `ets_printf`).
const ESP_ROM_ALIAS_PREFIX: &str = "esp_rom_";
/// Approximate heap bytes per symbol, FDE and section entry, for [`Symbolizer::approx_memory_bytes`].
const APPROX_SYMBOL_BYTES: usize = 48;
/// See [`APPROX_SYMBOL_BYTES`].
const APPROX_FDE_BYTES: usize = 32;
/// See [`APPROX_SYMBOL_BYTES`].
const APPROX_SECTION_BYTES: usize = 64;
/// The addr2line unit index and the lazily parsed units, as a fraction (1/N) of the ELF size.
const APPROX_DWARF_FRACTION: usize = 4;

impl SectionInfo {
    /// Executable and allocated.
    pub fn is_exec(&self) -> bool {
        self.sh_flags & SHF_CODE == SHF_CODE
    }

    /// Executable and holding `addr`.
    fn holds_code(&self, addr: u32) -> bool {
        self.is_exec()
            && addr >= self.addr
            && u64::from(addr) < u64::from(self.addr) + u64::from(self.size)
    }
}

#[derive(Debug, Clone)]
struct Sym {
    addr: u32,
    size: u32,
    name: Box<str>,
    is_func: bool,
}

/// One entry of an inline chain, innermost first (addr2line `Frame`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceFrame {
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// A register recovery rule of one CFI row, owned so no gimli lifetimes leak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegRule {
    /// No rule in the row: gdb treats the register as unchanged.
    Unspecified,
    /// Explicit `DW_CFA_undefined`.
    Undefined,
    SameValue,
    Offset(i64),
    ValOffset(i64),
    Register(u16),
    /// Expressions and other rules this decoder does not evaluate.
    Unsupported,
}

/// The CFI row that covers an address.
#[derive(Debug, Clone)]
pub(crate) struct CfiRow {
    /// `None` when the CFA is a DWARF expression.
    pub cfa: Option<(u16, i64)>,
    pub ra_column: u16,
    rules: Vec<(u16, RegRule)>,
}

impl CfiRow {
    pub fn rule(&self, reg: u16) -> RegRule {
        self.rules
            .iter()
            .find(|(r, _)| *r == reg)
            .map(|(_, rule)| *rule)
            .unwrap_or(RegRule::Unspecified)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CfiSource {
    DebugFrame,
    EhFrame,
}

#[derive(Debug, Clone, Copy)]
struct FdeEntry {
    start: u64,
    end: u64,
    offset: usize,
    source: CfiSource,
}

/// Firmware ELF facts and lookup tables; `Send + Sync`, shared behind an `Arc`.
pub struct Symbolizer {
    elf: ElfBytes,
    sha256: [u8; 32],
    arch: Option<Arch>,
    sections: Vec<SectionInfo>,
    /// Sized function/object symbols, sorted by address.
    symbols: Vec<Sym>,
    /// Zero-size absolute symbols (ROM entry points from the linker scripts), sorted.
    abs_symbols: Vec<Sym>,
    dwarf: Option<Units>,
    debug_frame: Option<Reader>,
    eh_frame: Option<(Reader, u64)>,
    fdes: Vec<FdeEntry>,
    tcb: Option<TcbLayout>,
    stmt_cache: Mutex<HashMap<u32, bool>>,
    approx_bytes: usize,
    /// Set when built from an index image (`indexed.rs`): lookups answer from it.
    index: Option<super::index::Index>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Symbolizer>();
};

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbolizer")
            .field("sha256", &hex::encode(self.sha256))
            .field("arch", &self.arch)
            .field("symbols", &self.symbols.len())
            .field("fdes", &self.fdes.len())
            .field("dwarf", &self.dwarf.is_some())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Symbolizer {
    /// Parses a firmware (or ROM) ELF. Costly: build once per ELF and reuse.
    pub fn new(elf: Vec<u8>) -> Result<Symbolizer, DecodeError> {
        Symbolizer::hashed_beside(ElfBytes::new(elf), Dwarf::Whole)
    }

    /// For one decode (`crashbox decode`): like [`Symbolizer::new`], but each DWARF compile
    /// unit is parsed when a lookup first needs it (found through `.debug_aranges`), so the
    /// cost follows the dump's PCs rather than the size of the ELF.
    pub fn new_lazy(elf: ElfData) -> Result<Symbolizer, DecodeError> {
        Symbolizer::hashed_beside(ElfBytes(Arc::new(elf)), Dwarf::Lazy)
    }

    fn hashed_beside(elf: ElfBytes, mode: Dwarf) -> Result<Symbolizer, DecodeError> {
        // Hash on a second thread while the tables are built: 2 of the ~8 ms for a 3.7 MB ELF.
        let for_hash = elf.clone();
        let (sha, sym) = std::thread::scope(|scope| {
            let hasher = scope.spawn(move || -> [u8; 32] { Sha256::digest(&*for_hash).into() });
            let sym = Symbolizer::build(elf, [0; 32], mode);
            (hasher.join(), sym)
        });
        let mut sym = sym?;
        sym.sha256 = sha.map_err(|_| DecodeError::InvalidElf("hashing thread failed".into()))?;
        Ok(sym)
    }

    /// [`Symbolizer::new`] with the SHA-256 already computed (the cache hashes for its key).
    pub(crate) fn with_sha256(elf: Vec<u8>, sha256: [u8; 32]) -> Result<Symbolizer, DecodeError> {
        Symbolizer::build(ElfBytes::new(elf), sha256, Dwarf::Whole)
    }

    fn build(elf: ElfBytes, sha256: [u8; 32], mode: Dwarf) -> Result<Symbolizer, DecodeError> {
        let (file, layout) = layout(&elf)?;
        let ElfLayout {
            arch,
            sections,
            dwarf,
            dwarf_sections,
            debug_frame,
            eh_frame,
        } = layout;
        let fdes_of = || {
            if arch != Some(Arch::Xtensa) {
                index_fdes(debug_frame.as_ref(), eh_frame.as_ref())
            } else {
                Vec::new()
            }
        };
        let (units, symbols, abs_symbols, tcb, fdes) = match mode {
            // addr2line's unit index is the longest step (~4.5 ms for a 3.7 MB ELF): build it
            // on a second thread while this one reads the symbol table, the TCB layout and the
            // FDEs.
            Dwarf::Whole => std::thread::scope(|scope| {
                let units_job = dwarf
                    .clone()
                    .map(|d| scope.spawn(move || Units::whole(d, dwarf_sections)));
                let (symbols, abs_symbols) = collect_symbols(&file);
                let tcb = dwarf.as_deref().and_then(super::tcb::layout_from_dwarf);
                let fdes = fdes_of();
                let units = units_job.and_then(|j| j.join().ok());
                (units, symbols, abs_symbols, tcb, fdes)
            }),
            // Lazily only `.debug_aranges` is read up front (no thread is worth its start-up),
            // and the TCB layout is looked up in the unit of a FreeRTOS `tasks.c` function.
            Dwarf::Lazy => {
                let units = dwarf.map(|d| Units::lazy(d, dwarf_sections));
                let (symbols, abs_symbols) = collect_symbols(&file);
                let tcb = units.as_ref().and_then(|u| lazy_tcb_layout(u, &symbols));
                (units, symbols, abs_symbols, tcb, fdes_of())
            }
        };
        let mut sym = Symbolizer {
            approx_bytes: 0,
            elf,
            sha256,
            arch,
            sections,
            symbols,
            abs_symbols,
            dwarf: units,
            debug_frame,
            eh_frame,
            fdes,
            tcb,
            stmt_cache: Mutex::new(HashMap::new()),
            index: None,
        };
        sym.approx_bytes = sym.elf.len()
            + (sym.symbols.len() + sym.abs_symbols.len()) * APPROX_SYMBOL_BYTES
            + sym.fdes.len() * APPROX_FDE_BYTES
            + sym.sections.len() * APPROX_SECTION_BYTES
            + sym.elf.len() / APPROX_DWARF_FRACTION;
        Ok(sym)
    }

    /// SHA-256 of the ELF file bytes (the dump's `ESP_CORE_DUMP_INFO` stores a hex prefix of
    /// it).
    pub fn elf_sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The ELF's bytes (empty for a symbolizer that answers from an index alone).
    pub fn elf_bytes(&self) -> &[u8] {
        &self.elf
    }

    /// Rough heap footprint, for the cache's memory bound.
    pub fn approx_memory_bytes(&self) -> usize {
        self.approx_bytes
    }

    /// Architecture from `e_machine`, if Xtensa or RISC-V.
    pub fn arch(&self) -> Option<Arch> {
        self.arch
    }

    pub(crate) fn sections(&self) -> &[SectionInfo] {
        &self.sections
    }

    pub(crate) fn tcb_layout(&self) -> Option<&TcbLayout> {
        self.tcb.as_ref()
    }

    pub(crate) fn has_dwarf(&self) -> bool {
        self.dwarf.is_some() || self.index.as_ref().is_some_and(|i| i.has_dwarf())
    }

    /// Whether `addr` is inside an executable, allocated section.
    pub(crate) fn is_code(&self, addr: u32) -> bool {
        self.sections.iter().any(|s| s.holds_code(addr))
    }

    /// The byte of code at `addr` (PROGBITS executable sections only).
    pub(crate) fn code_byte(&self, addr: u32) -> Option<u8> {
        if let Some(ix) = &self.index {
            return ix.code_byte(addr);
        }
        let s = self.sections.iter().find(|s| s.holds_code(addr))?;
        let (off, len) = s.file_range?;
        let rel = usize::try_from(addr - s.addr).ok()?;
        if rel >= len {
            return None;
        }
        self.elf.get(off.checked_add(rel)?).copied()
    }

    /// The function symbol containing `addr`, with the offset (gdb's `<func+off>`).
    pub(crate) fn function_symbol(&self, addr: u32) -> Option<(&str, u32)> {
        if let Some(ix) = &self.index {
            return ix.sized_symbol(addr, true);
        }
        find_sized(&self.symbols, addr, true)
    }

    /// Any sized symbol (function or object) containing `addr`.
    pub(crate) fn any_symbol(&self, addr: u32) -> Option<(&str, u32)> {
        if let Some(ix) = &self.index {
            return ix.sized_symbol(addr, false);
        }
        find_sized(&self.symbols, addr, false)
    }

    /// The nearest absolute (ROM) symbol at or below `addr` within `max_dist` bytes: a hint only,
    /// since gdb ignores these and on RISC-V they name jump-table stubs.
    pub(crate) fn nearest_abs_symbol(&self, addr: u32, max_dist: u32) -> Option<(&str, u32)> {
        if let Some(ix) = &self.index {
            return ix.nearest_abs_symbol(addr, max_dist);
        }
        let idx = self.abs_symbols.partition_point(|s| s.addr <= addr);
        let s = self.abs_symbols.get(idx.checked_sub(1)?)?;
        let off = addr - s.addr;
        (off <= max_dist).then_some((&*s.name, off))
    }

    /// Inline chain at `probe`, innermost first. Empty when there is no DWARF for it.
    pub(crate) fn source_frames(&self, probe: u32) -> Vec<SourceFrame> {
        if let Some(ix) = &self.index {
            return ix.source_frames(probe);
        }
        let Some(units) = &self.dwarf else {
            return Vec::new();
        };
        let probe = u64::from(probe);
        units.with(&[probe], |lookup| {
            let mut out = Vec::new();
            let Some(ctx) = lookup.context(probe) else {
                return out;
            };
            let Ok(mut iter) = ctx.find_frames(probe).skip_all_loads() else {
                return out;
            };
            while let Ok(Some(f)) = iter.next() {
                if out.len() >= MAX_INLINE_DEPTH {
                    break;
                }
                let function = f
                    .function
                    .as_ref()
                    .and_then(|n| n.raw_name().ok().map(|c| c.into_owned()));
                let (file, line) = match &f.location {
                    Some(l) => (l.file.map(str::to_string), l.line),
                    None => (None, None),
                };
                out.push(SourceFrame {
                    function,
                    file,
                    line,
                });
            }
            out
        })
    }

    /// Whether a line-table row with `is_stmt` starts exactly at `addr` (gdb prints frame 0
    /// without its address in that case). `end_sequence` rows do not count.
    pub(crate) fn starts_stmt_row(&self, addr: u32) -> bool {
        if let Some(ix) = &self.index {
            return ix.starts_stmt_row(addr);
        }
        if let Some(&v) = lock(&self.stmt_cache).get(&addr) {
            return v;
        }
        let v = self.compute_stmt_row(addr).unwrap_or(false);
        let mut cache = lock(&self.stmt_cache);
        if cache.len() > STMT_CACHE_MAX {
            cache.clear();
        }
        cache.insert(addr, v);
        v
    }

    fn compute_stmt_row(&self, addr: u32) -> Option<bool> {
        let probe = u64::from(addr);
        self.dwarf.as_ref()?.with(&[probe], |lookup| {
            let unit = lookup
                .context(probe)?
                .find_dwarf_and_unit(probe)
                .skip_all_loads()?;
            let program = unit.line_program.clone()?;
            let mut rows = program.rows();
            let mut steps = 0usize;
            while let Ok(Some((_, row))) = rows.next_row() {
                steps += 1;
                if steps > MAX_LINE_ROWS {
                    return None;
                }
                if row.address() == probe && !row.end_sequence() && row.is_stmt() {
                    return Some(true);
                }
            }
            Some(false)
        })
    }

    /// Runs `f` with the DWARF contexts covering `probes` (loaded first when units are loaded
    /// lazily, and locked for the call); `None` without DWARF. For the evaluation of frame
    /// variables (`values/`).
    pub(crate) fn with_dwarf<T>(
        &self,
        probes: &[u64],
        f: impl FnOnce(&Lookup<'_>) -> T,
    ) -> Option<T> {
        Some(self.dwarf.as_ref()?.with(probes, f))
    }

    /// `len` bytes at `addr` from the file contents of an allocated section (what gdb reads
    /// from the executable when the core does not hold an address).
    pub(crate) fn section_bytes(&self, addr: u32, len: u32) -> Option<&[u8]> {
        let s = self.sections.iter().find(|s| {
            s.sh_flags & object::elf::SHF_ALLOC.0 as u32 != 0
                && addr >= s.addr
                && u64::from(addr) + u64::from(len) <= u64::from(s.addr) + u64::from(s.size)
        })?;
        let (off, flen) = s.file_range?;
        let rel = usize::try_from(addr - s.addr).ok()?;
        let end = rel.checked_add(usize::try_from(len).ok()?)?;
        if end > flen {
            return None;
        }
        self.elf.get(off.checked_add(rel)?..off.checked_add(end)?)
    }

    /// The address of the function symbol `name` (gdb's minimal symbol lookup for a call
    /// site's target named by a declaration).
    pub(crate) fn function_address(&self, name: &str) -> Option<u32> {
        if let Some(ix) = &self.index {
            return ix.function_address(name);
        }
        self.symbols
            .iter()
            .find(|s| s.is_func && &*s.name == name)
            .map(|s| s.addr)
    }

    fn find_fde(&self, addr: u32) -> Option<FdeEntry> {
        let a = u64::from(addr);
        last_covering(&self.fdes, a, |f| f.start, FDE_LOOKBACK, |f| a < f.end).copied()
    }

    /// The CFI row covering `addr`, or `None` without CFI for it.
    pub(crate) fn cfi_row(&self, addr: u32) -> Option<CfiRow> {
        if let Some(ix) = &self.index {
            return ix.cfi_row(addr).map(CfiRow::from);
        }
        let fde = self.find_fde(addr)?;
        match fde.source {
            CfiSource::DebugFrame => {
                let (section, bases) = debug_frame(self.debug_frame.as_ref()?);
                row_at(&section, &bases, fde.offset, addr)
            }
            CfiSource::EhFrame => {
                let (section, bases) = eh_frame(self.eh_frame.as_ref()?);
                row_at(&section, &bases, fde.offset, addr)
            }
        }
    }
}

/// What the symbolizer reads from an ELF's headers: its sections and DWARF/CFI readers.
struct ElfLayout {
    arch: Option<Arch>,
    sections: Vec<SectionInfo>,
    dwarf: Option<Arc<gimli::Dwarf<Reader>>>,
    dwarf_sections: Vec<(gimli::SectionId, Reader)>,
    debug_frame: Option<Reader>,
    eh_frame: Option<(Reader, u64)>,
}

/// Parses the ELF header and section table of `elf` (no symbol, DWARF unit or CFI entry yet).
fn layout(
    elf: &ElfBytes,
) -> Result<
    (
        object::read::elf::ElfFile32<'_, object::Endianness>,
        ElfLayout,
    ),
    DecodeError,
> {
    let file = object::read::elf::ElfFile32::<object::Endianness>::parse(elf)
        .map_err(|e| DecodeError::InvalidElf(format!("not a 32-bit ELF: {e}")))?;
    if !file.is_little_endian() {
        return Err(DecodeError::InvalidElf("big-endian ELF".into()));
    }
    let e_machine =
        object::read::elf::FileHeader::e_machine(file.elf_header(), object::Endianness::Little).0;
    let arch = Arch::from_e_machine(e_machine);
    let mut sections = Vec::new();
    let mut dwarf_ranges: HashMap<&'static str, (usize, usize)> = HashMap::new();
    let mut eh_frame_addr = 0u64;
    const DWARF_NAMES: &[&str] = &[
        ".debug_abbrev",
        ".debug_addr",
        ".debug_aranges",
        ".debug_info",
        ".debug_line",
        ".debug_line_str",
        ".debug_loc",
        ".debug_loclists",
        ".debug_ranges",
        ".debug_rnglists",
        ".debug_str",
        ".debug_str_offsets",
        ".debug_frame",
        ".eh_frame",
    ];
    for s in file.sections() {
        let name = s.name().unwrap_or("").to_string();
        let hdr = s.elf_section_header();
        let endian = object::Endianness::Little;
        let sh_type = object::read::elf::SectionHeader::sh_type(hdr, endian).0;
        let sh_flags = object::read::elf::SectionHeader::sh_flags(hdr, endian).0 as u32;
        let file_range = s
            .file_range()
            .and_then(|(o, l)| Some((usize::try_from(o).ok()?, usize::try_from(l).ok()?)))
            .filter(|&(o, l)| o.checked_add(l).is_some_and(|e| e <= elf.len()));
        if let Some(&d) = DWARF_NAMES.iter().find(|&&d| d == name)
            && let Some(r) = file_range
            && s.compressed_file_range()
                .is_ok_and(|c| c.format == object::CompressionFormat::None)
        {
            dwarf_ranges.insert(d, r);
            if d == ".eh_frame" {
                eh_frame_addr = s.address();
            }
        }
        sections.push(SectionInfo {
            name,
            addr: s.address() as u32,
            size: s.size() as u32,
            sh_type,
            sh_flags,
            file_range: if sh_type == object::elf::SHT_PROGBITS.0 {
                file_range
            } else {
                None
            },
        });
    }
    let reader = |name: &str| -> Reader {
        let base = EndianReader::new(elf.clone(), LittleEndian);
        match dwarf_ranges.get(name) {
            Some(&(o, l)) => base.range(o..o + l),
            None => base.range(0..0),
        }
    };
    let has_dwarf = dwarf_ranges.contains_key(".debug_info");
    let dwarf_sections: Vec<(gimli::SectionId, Reader)> = DWARF_SECTIONS
        .iter()
        .map(|&id| (id, reader(id.name())))
        .collect();
    let dwarf = if has_dwarf {
        let d = units::load(&dwarf_sections)
            .map_err(|e| DecodeError::InvalidElf(format!("DWARF: {e}")))?;
        Some(d)
    } else {
        None
    };
    let debug_frame = dwarf_ranges
        .contains_key(".debug_frame")
        .then(|| reader(".debug_frame"));
    let eh_frame = dwarf_ranges
        .contains_key(".eh_frame")
        .then(|| (reader(".eh_frame"), eh_frame_addr));
    Ok((
        file,
        ElfLayout {
            arch,
            sections,
            dwarf,
            dwarf_sections,
            debug_frame,
            eh_frame,
        },
    ))
}

/// How a symbolizer reaches the DWARF compile units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dwarf {
    /// addr2line's index of every unit, built with the symbolizer.
    Whole,
    /// Each unit on first use (see `units.rs`).
    Lazy,
}

/// The DWARF sections the symbolizer reads.
const DWARF_SECTIONS: &[gimli::SectionId] = &[
    gimli::SectionId::DebugAbbrev,
    gimli::SectionId::DebugAddr,
    gimli::SectionId::DebugAranges,
    gimli::SectionId::DebugInfo,
    gimli::SectionId::DebugLine,
    gimli::SectionId::DebugLineStr,
    gimli::SectionId::DebugLoc,
    gimli::SectionId::DebugLocLists,
    gimli::SectionId::DebugRanges,
    gimli::SectionId::DebugRngLists,
    gimli::SectionId::DebugStr,
    gimli::SectionId::DebugStrOffsets,
];

/// Functions FreeRTOS defines in `tasks.c`, whose unit defines `struct tskTaskControlBlock`.
const TASKS_C_FUNCTIONS: &[&str] = &[
    "vTaskSwitchContext",
    "xTaskIncrementTick",
    "vTaskDelay",
    "xTaskGetTickCount",
];

/// The TCB layout from the unit of a `tasks.c` function, else by the search of every unit.
fn lazy_tcb_layout(units: &Units, symbols: &[Sym]) -> Option<TcbLayout> {
    let from_tasks_c = TASKS_C_FUNCTIONS.iter().find_map(|name| {
        let addr = symbols
            .iter()
            .find(|s| s.is_func && &*s.name == *name)?
            .addr;
        let unit = units.unit(units.unit_offset(u64::from(addr))?)?;
        super::tcb::layout_in_unit(units.dwarf(), &unit)
    });
    from_tasks_c.or_else(|| super::tcb::layout_from_dwarf(units.dwarf()))
}

/// Index of every FDE of `.debug_frame` and `.eh_frame`, sorted by start address.
fn index_fdes(debug_frame: Option<&Reader>, eh_frame: Option<&(Reader, u64)>) -> Vec<FdeEntry> {
    let mut fdes = Vec::new();
    if let Some(df) = debug_frame {
        let (section, bases) = self::debug_frame(df);
        collect_fdes(&section, &bases, CfiSource::DebugFrame, &mut fdes);
    }
    if let Some(eh) = eh_frame {
        let (section, bases) = self::eh_frame(eh);
        collect_fdes(&section, &bases, CfiSource::EhFrame, &mut fdes);
    }
    // .debug_frame first (sorted before .eh_frame for equal starts), then by address.
    fdes.sort_by_key(|f| (f.start, f.source == CfiSource::EhFrame));
    fdes
}

/// `.debug_frame` ready to read: absolute addresses, no base addresses needed.
fn debug_frame(reader: &Reader) -> (gimli::DebugFrame<Reader>, gimli::BaseAddresses) {
    let mut section = gimli::DebugFrame::from(reader.clone());
    section.set_address_size(ADDRESS_SIZE);
    (section, gimli::BaseAddresses::default())
}

/// `.eh_frame` ready to read: its pc-relative pointers need the section's address.
fn eh_frame((reader, addr): &(Reader, u64)) -> (gimli::EhFrame<Reader>, gimli::BaseAddresses) {
    let mut section = gimli::EhFrame::from(reader.clone());
    section.set_address_size(ADDRESS_SIZE);
    (section, gimli::BaseAddresses::default().set_eh_frame(*addr))
}

fn collect_fdes<S: UnwindSection<Reader>>(
    section: &S,
    bases: &gimli::BaseAddresses,
    source: CfiSource,
    out: &mut Vec<FdeEntry>,
) where
    S::Offset: gimli::UnwindOffset<usize>,
{
    let mut entries = section.entries(bases);
    let mut n = 0usize;
    while let Ok(Some(entry)) = entries.next() {
        n += 1;
        if n > MAX_CFI_ENTRIES {
            break;
        }
        if let gimli::CieOrFde::Fde(partial) = entry
            && let Ok(fde) = partial.parse(S::cie_from_offset)
        {
            let start = fde.initial_address();
            if fde.len() == 0 {
                continue;
            }
            out.push(FdeEntry {
                start,
                end: start.saturating_add(fde.len()),
                offset: fde.offset(),
                source,
            });
        }
    }
}

fn row_at<S: UnwindSection<Reader>>(
    section: &S,
    bases: &gimli::BaseAddresses,
    offset: usize,
    addr: u32,
) -> Option<CfiRow>
where
    S::Offset: gimli::UnwindOffset<usize>,
{
    let fde = section
        .fde_from_offset(bases, S::Offset::from(offset), S::cie_from_offset)
        .ok()?;
    let mut ctx = gimli::UnwindContext::new();
    let row = fde
        .unwind_info_for_address(section, bases, &mut ctx, u64::from(addr))
        .ok()?;
    Some(owned_row(row, fde.cie().return_address_register().0))
}

/// A gimli CFI row as an owned [`CfiRow`].
fn owned_row<T: gimli::ReaderOffset>(row: &gimli::UnwindTableRow<T>, ra_column: u16) -> CfiRow {
    let cfa = match row.cfa() {
        gimli::CfaRule::RegisterAndOffset { register, offset } => Some((register.0, *offset)),
        gimli::CfaRule::Expression(_) => None,
    };
    let rules = row
        .registers()
        .map(|(reg, rule)| {
            let r = match rule {
                gimli::RegisterRule::Undefined => RegRule::Undefined,
                gimli::RegisterRule::SameValue => RegRule::SameValue,
                gimli::RegisterRule::Offset(o) => RegRule::Offset(*o),
                gimli::RegisterRule::ValOffset(o) => RegRule::ValOffset(*o),
                gimli::RegisterRule::Register(r) => RegRule::Register(r.0),
                _ => RegRule::Unsupported,
            };
            (reg.0, r)
        })
        .collect();
    CfiRow {
        cfa,
        ra_column,
        rules,
    }
}

fn collect_symbols(
    file: &object::read::elf::ElfFile32<'_, object::Endianness>,
) -> (Vec<Sym>, Vec<Sym>) {
    let mut sized = Vec::new();
    let mut abs = Vec::new();
    for s in file.symbols() {
        let Ok(name) = s.name() else { continue };
        // RISC-V mapping symbols ($x, $d, $xrv32i2p1_...) and empty names are not functions.
        if name.is_empty() || name.starts_with(MAPPING_SYMBOL_PREFIX) {
            continue;
        }
        let kind = s.kind();
        let is_func = kind == SymbolKind::Text;
        let is_data = kind == SymbolKind::Data;
        let addr = s.address() as u32;
        let size = s.size() as u32;
        if s.section() == SymbolSection::Absolute {
            if size == 0 && addr != 0 {
                abs.push(Sym {
                    addr,
                    size,
                    name: name.into(),
                    is_func: true,
                });
            }
            continue;
        }
        if !(is_func || is_data) || size == 0 || addr == 0 {
            continue;
        }
        if matches!(s.section(), SymbolSection::Section(SectionIndex(0))) {
            continue;
        }
        sized.push(Sym {
            addr,
            size,
            name: name.into(),
            is_func,
        });
    }
    // Globals over locals at equal addresses is what gdb's msymbol preference does; a stable
    // sort keeps symtab order (locals first) so prefer the last among equals when searching.
    sized.sort_by_key(|s| s.addr);
    // At equal addresses the lookup takes the last entry: prefer the ROM's own name
    // (`ets_printf`) over ESP-IDF's `esp_rom_*` alias of the same entry point.
    abs.sort_by_key(|s| (s.addr, !s.name.starts_with(ESP_ROM_ALIAS_PREFIX)));
    (sized, abs)
}

fn find_sized(syms: &[Sym], addr: u32, funcs_only: bool) -> Option<(&str, u32)> {
    last_covering(
        syms,
        addr,
        |s| s.addr,
        SYMBOL_LOOKBACK,
        |s| (!funcs_only || s.is_func) && u64::from(addr) < u64::from(s.addr) + u64::from(s.size),
    )
    .map(|s| (&*s.name, addr - s.addr))
}
