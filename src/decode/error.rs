//! Errors of the decoder: [`DecodeError`] for inputs that cannot be decoded at all.
//!
//! Problems that still allow a partial result are not errors: they end up as strings in
//! `Analysis::warnings` as [`super::Warning`]s (see "Hostile input" in `mod.rs`).

use thiserror::Error;

/// Why a dump or a firmware ELF could not be decoded at all.
///
/// Messages are lower-case and carry the offending value, so they read well after
/// "Unable to parse coredump: ".
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input had no bytes (or no decodable base64 lines).
    #[error("empty input")]
    Empty,
    /// A flash partition that holds no dump (erased or never written).
    #[error("blank or erased core dump partition (data_len 0x{0:08x})")]
    BlankPartition(u32),
    /// Nothing in the input looks like an ESP-IDF core dump.
    #[error("not an ESP-IDF core dump: {0}")]
    NotACoreDump(String),
    /// The container header names a format version esp-coredump does not know either.
    #[error("core dump version 0x{0:08x} is not supported")]
    UnsupportedVersion(u32),
    /// The dump body is too damaged to produce even a partial result.
    #[error("malformed core dump: {0}")]
    Malformed(String),
    /// The firmware ELF (or a ROM ELF) could not be read.
    #[error("invalid firmware ELF: {0}")]
    InvalidElf(String),
    /// The caller's deadline passed before anything useful was produced.
    #[error("decode deadline exceeded")]
    DeadlineExceeded,
}
