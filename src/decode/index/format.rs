//! The on-disk layout of a symbolization index: header, table directory, record sizes.
//!
//! ```text
//! offset size  field
//!      0    8  magic "CBXSYMIX"
//!      8    4  format version (FORMAT_VERSION), little-endian like every field
//!     12    4  CRC-32 (IEEE) of the whole file, computed with these 4 bytes as zero
//!     16    8  total file length
//!     24   16  source stamp (opaque to the decoder: the store puts the bundle's length and
//!              modification time here, so an index that outlived its bundle is not trusted)
//!     40   32  SHA-256 of the firmware ELF
//!     72    4  number of tables (TABLE_COUNT)
//!     76    4  length of the firmware ELF (the mapped ELF beside the index must match)
//!     80  8×N  table directory: (offset u32, length u32) per table, in `Table` order
//! ```
//! Tables are arrays of fixed-size little-endian records (sizes below) or byte blobs; strings
//! are referenced by their offset in the string table, where each is a `u32` length followed
//! by UTF-8 bytes. `NONE` (`u32::MAX`) stands for "no string" / "no chain".

/// File magic.
pub(crate) const MAGIC: [u8; 8] = *b"CBXSYMIX";
/// Bumped on every change of layout or meaning; an index of another version is rebuilt.
pub const FORMAT_VERSION: u32 = 2;
/// Offset of the CRC-32 field.
pub(crate) const CRC_AT: usize = 12;
/// Offset of the total length.
pub(crate) const LEN_AT: usize = 16;
/// Offset of the source stamp.
pub(crate) const STAMP_AT: usize = 24;
/// Offset of the ELF SHA-256.
pub(crate) const SHA_AT: usize = 40;
/// Offset of the table count.
pub(crate) const COUNT_AT: usize = 72;
/// Offset of the ELF's length.
pub(crate) const ELF_LEN_AT: usize = 76;
/// Offset of the table directory.
pub(crate) const DIR_AT: usize = 80;
/// Bytes of the stamp.
pub const STAMP_LEN: usize = 16;
/// "No string", "no chain".
pub(crate) const NONE: u32 = u32::MAX;

/// The tables, in directory order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// Fixed facts: arch, DWARF present, TCB layout ([`META_LEN`] bytes).
    Meta = 0,
    /// Length-prefixed UTF-8 strings.
    Strings,
    /// ELF sections ([`SECTION_LEN`]).
    Sections,
    /// Bytes of the executable PROGBITS sections.
    Code,
    /// Sized function/object symbols sorted by address ([`SYMBOL_LEN`]).
    Symbols,
    /// Zero-size absolute symbols sorted by address ([`SYMBOL_LEN`]).
    AbsSymbols,
    /// FDEs sorted by start address ([`FDE_LEN`]).
    Fdes,
    /// CFI rows of every FDE ([`ROW_LEN`]).
    CfiRows,
    /// Register rules of the rows ([`RULE_LEN`]).
    CfiRules,
    /// Address segments with a constant inline chain ([`SEGMENT_LEN`]), sorted by start.
    Segments,
    /// Inline chains: runs of frames ([`CHAIN_LEN`]).
    Chains,
    /// Source frames: function, file, line ([`FRAME_LEN`]).
    Frames,
    /// Addresses where an `is_stmt` line row starts, sorted (`u32` each).
    Stmts,
}

/// Number of tables.
pub(crate) const TABLE_COUNT: usize = 13;
/// Every table, in directory order.
pub(crate) const TABLES: [Table; TABLE_COUNT] = [
    Table::Meta,
    Table::Strings,
    Table::Sections,
    Table::Code,
    Table::Symbols,
    Table::AbsSymbols,
    Table::Fdes,
    Table::CfiRows,
    Table::CfiRules,
    Table::Segments,
    Table::Chains,
    Table::Frames,
    Table::Stmts,
];
/// Bytes of the header and directory.
pub(crate) const HEADER_LEN: usize = DIR_AT + TABLE_COUNT * 8;

/// Meta: arch u8 (0 none, 1 Xtensa, 2 RISC-V), has_dwarf u8, tcb flags u8 (bit 0 layout
/// present, 1 size, 2 end of stack, 3 base priority), pad u8, then 8 × u32: size,
/// pxTopOfStack, uxPriority, pxStack, pcTaskName, name length, pxEndOfStack, uxBasePriority.
pub(crate) const META_LEN: usize = 4 + 8 * 4;
/// Section: name, addr, size, sh_type, sh_flags, code offset (NONE: no bytes), code length.
pub(crate) const SECTION_LEN: usize = 7 * 4;
/// Symbol: addr, size, name, is_func.
pub(crate) const SYMBOL_LEN: usize = 4 * 4;
/// FDE: start u64, end u64, first row u32, row count u32.
pub(crate) const FDE_LEN: usize = 24;
/// CFI row: start u64, end u64, CFA offset i64, first rule u32, rule count u32, CFA register
/// u16, return address column u16, CFA kind u8 (0 expression, 1 register + offset), pad 3.
pub(crate) const ROW_LEN: usize = 40;
/// Rule: register u16, kind u8, pad 5, value i64.
pub(crate) const RULE_LEN: usize = 16;
/// Segment: start address u32, chain (NONE: no source frames).
pub(crate) const SEGMENT_LEN: usize = 8;
/// Chain: first frame u32, frame count u32 (innermost first).
pub(crate) const CHAIN_LEN: usize = 8;
/// Frame: function, file, line, flags (bit 0: line present).
pub(crate) const FRAME_LEN: usize = 16;
/// Stmt address.
pub(crate) const STMT_LEN: usize = 4;

/// Record size of a table; `None` for byte blobs.
pub(crate) fn record_len(t: Table) -> Option<usize> {
    match t {
        Table::Meta => Some(META_LEN),
        Table::Strings | Table::Code => None,
        Table::Sections => Some(SECTION_LEN),
        Table::Symbols | Table::AbsSymbols => Some(SYMBOL_LEN),
        Table::Fdes => Some(FDE_LEN),
        Table::CfiRows => Some(ROW_LEN),
        Table::CfiRules => Some(RULE_LEN),
        Table::Segments => Some(SEGMENT_LEN),
        Table::Chains => Some(CHAIN_LEN),
        Table::Frames => Some(FRAME_LEN),
        Table::Stmts => Some(STMT_LEN),
    }
}

/// Rule kinds in a rule record.
pub(crate) mod rule_kind {
    pub const UNDEFINED: u8 = 1;
    pub const SAME_VALUE: u8 = 2;
    pub const OFFSET: u8 = 3;
    pub const VAL_OFFSET: u8 = 4;
    pub const REGISTER: u8 = 5;
    pub const UNSUPPORTED: u8 = 6;
    pub const UNSPECIFIED: u8 = 7;
}

/// CRC-32 of an index image, with the CRC field taken as zero.
pub(crate) fn checksum(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(bytes.get(..CRC_AT).unwrap_or_default());
    h.update(&[0; 4]);
    h.update(bytes.get(CRC_AT + 4..).unwrap_or_default());
    h.finalize()
}

/// Writes the CRC-32 of an image into its header: the writer's last step, and how tests and
/// fuzzers get hostile tables past the checksum. Images shorter than the header are left alone.
pub fn seal(image: &mut [u8]) {
    let crc = checksum(image);
    if let Some(slot) = image.get_mut(CRC_AT..CRC_AT + 4) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
}
