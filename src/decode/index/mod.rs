//! The symbolization index: what the decoder needs from one firmware ELF, precomputed into a
//! compact, versioned, checksummed file, so the first dump of a firmware version decodes as
//! fast as the hundredth without unzipping the ELF or parsing DWARF.
//!
//! - [`format`]: the layout (header, table directory, record sizes) and the checksum.
//! - `write.rs`: the image, from the facts an ELF-backed `Symbolizer` gathers
//!   (`symbols/indexed.rs`); every answer is the ELF path's own answer, precomputed:
//!   the inline chain of every address segment where it may change (DWARF line rows, DIE
//!   ranges, unit ranges), the `is_stmt` row starts, every CFI row of every FDE, the symbol
//!   tables, the section list and the code bytes of executable sections, the TCB layout.
//! - `read.rs`: [`Index`], a verified image with bisection lookups through bounds-checked
//!   accessors. A wrong magic, version, length, CRC or table bound is an [`IndexError`]: the
//!   caller rebuilds the index from the ELF and never trusts a bad one.
//!
//! Build with [`crate::decode::Symbolizer::to_index`]; decode with a symbolizer from
//! [`crate::decode::Symbolizer::from_index`]. Files are the store's business (`firmware/index.rs`).

pub mod format;
mod read;
mod write;

pub use format::{FORMAT_VERSION, STAMP_LEN};
pub use read::Index;
pub(crate) use read::{IndexedRow, IndexedSection};
pub(crate) use write::{Facts, FdeFacts, SectionFacts, SymbolFacts, write};

/// Why an index image cannot be used (or built).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// Shorter than its header or its recorded length.
    #[error("index is truncated")]
    Truncated,
    /// Not an index file.
    #[error("not a symbolization index (bad magic)")]
    NotAnIndex,
    /// Written by another format version.
    #[error("index format version {0}, this build reads {FORMAT_VERSION}")]
    Version(u32),
    /// The CRC-32 does not match.
    #[error("index checksum mismatch")]
    Checksum,
    /// Inconsistent tables.
    #[error("malformed index: {0}")]
    Malformed(&'static str),
    /// Built for another source (its bundle changed).
    #[error("index is stale (built for another file)")]
    Stale,
    /// The ELF is too large to index.
    #[error("ELF too large to index")]
    TooLarge,
    /// The ELF cannot be indexed.
    #[error("cannot index the ELF: {0}")]
    Unindexable(String),
}
