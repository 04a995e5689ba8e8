//! Container sniffing and unwrapping: turns whatever bytes arrived into a dump *body* (an ELF
//! core or a legacy binary dump) plus what the container said about it.
//!
//! Accepted inputs:
//! - line-wise base64 text as printed over UART, with or without the
//!   `CORE DUMP START`/`CORE DUMP END` markers, `\r`, empty lines and log noise (each line is
//!   decoded on its own, because the device encodes every write of up to 48 bytes separately,
//!   with its own `=` padding);
//! - a raw flash partition image: `core_dump_header_t` (12/16/20/24 bytes by version), body,
//!   zero padding to a multiple of 32 bytes (flash only) and a CRC32 or SHA-256 checksum over
//!   everything before it. A bad checksum is a warning;
//! - a bare ELF core (header and checksum stripped by the device uploader), possibly followed
//!   by zero padding or checksum bytes, including a V2_2 core whose first 12 bytes were cut
//!   off by an uploader that strips a 24-byte header.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bytes::{u16_at, u32_at};
use super::chip::{Arch, chip_of_version};
use super::error::DecodeError;
use super::warning::Warning;

/// How the dump bytes were encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Raw bytes.
    Raw,
    /// Line-wise base64 text (UART output).
    Base64,
}

/// The kind of dump body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// ELF core (version major 1).
    Elf,
    /// Legacy binary format (version major 0).
    Binary,
}

/// Checksum algorithm of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumKind {
    /// zlib/IEEE CRC-32 stored as u32 LE (`esp_rom_crc32_le`).
    Crc32,
    /// SHA-256 digest bytes.
    Sha256,
}

/// Result of the container checksum check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChecksumStatus {
    /// Stored and computed checksums agree.
    Valid {
        /// The container's checksum algorithm.
        kind: ChecksumKind,
        /// The checksum (hex).
        value: String,
    },
    /// They differ: the dump is untrusted, but decoding went on.
    Mismatch {
        /// The container's checksum algorithm.
        kind: ChecksumKind,
        /// The checksum stored in the image (hex).
        stored: String,
        /// The checksum of the image's bytes (hex).
        computed: String,
    },
    /// The image is shorter than its `data_len`, so the checksum could not be read.
    Truncated {
        /// The container's checksum algorithm.
        kind: ChecksumKind,
    },
    /// No container header (bare ELF): nothing to check.
    Absent,
}

/// The container header fields that matter after unwrapping (`core_dump_header_t`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderInfo {
    /// The full version word: chip ID in bits 31..16, major in 15..8, minor in 7..0.
    pub version: u32,
    /// esp-coredump's name of the format (`ELF_CRC32_V2_1`, `BIN_V2`, ...).
    pub name: String,
    /// Header length in bytes (12, 16, 20 or 24).
    pub header_len: u32,
    /// `data_len`: total image length including header, padding and checksum.
    pub data_len: u32,
    /// Chip revision (major×100 + minor), only in V2_1 and V2_2 headers.
    pub chip_rev: Option<u32>,
}

/// Legacy binary header fields (`tasks_num`, `tcb_sz`, `mem_segs_num` of
/// `core_dump_header_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BinaryHeader {
    pub task_num: u32,
    pub tcb_sz: u32,
    pub mem_segs_num: u32,
}

/// An unwrapped dump: its body plus container facts and warnings.
#[derive(Debug)]
pub(crate) struct Unwrapped {
    pub encoding: Encoding,
    pub body_format: BodyFormat,
    pub header: Option<HeaderInfo>,
    pub binary: Option<BinaryHeader>,
    pub checksum: ChecksumStatus,
    pub body: Vec<u8>,
    pub warnings: Vec<Warning>,
}

/// The bits of a version word that give the format: major (0 binary, 1 ELF) in 15..8, minor
/// in 7..0 (`COREDUMP_VERSION_MAKE`, ESP-IDF `esp_core_dump_types.h`).
const VERSION_FORMAT_MASK: u32 = 0xFFFF;

/// The format part of a version word.
pub(crate) fn format_of_version(version: u32) -> u32 {
    version & VERSION_FORMAT_MASK
}

// The formats esp-coredump knows (`EspCoreDumpLoader.BIN_V1` ... `ELF_SHA256_V2_2`,
// esp-coredump `corefile/loader.py`); any other is rejected, as esp-coredump does.

/// Legacy binary dump of IDF before v4.1.
const BIN_V1: u32 = 0x0001;
/// Binary dump with memory segments.
const BIN_V2: u32 = 0x0002;
/// Binary dump with memory segments and chip revision.
pub(crate) const BIN_V2_1: u32 = 0x0003;
/// ELF dump, CRC32 (IDF v4.x).
const ELF_CRC32_V2: u32 = 0x0100;
/// ELF dump, SHA-256 (IDF v4.x).
const ELF_SHA256_V2: u32 = 0x0101;
/// ELF dump, CRC32, with chip revision (IDF v5.x).
const ELF_CRC32_V2_1: u32 = 0x0102;
/// ELF dump, SHA-256, with chip revision (IDF v5.x).
const ELF_SHA256_V2_1: u32 = 0x0103;
/// ELF dump, SHA-256, short header (IDF v6.0).
const ELF_SHA256_V2_2: u32 = 0x0104;

// `core_dump_header_t` (ESP-IDF `esp_core_dump_types.h`): u32 fields `data_len`, `version`,
// `tasks_num`, `tcb_sz`, `mem_segs_num`, `chip_rev`, as far as the version has them; the
// V2_2 header keeps `data_len`, `version`, `chip_rev` only.

/// Offset of `data_len`: the image length including header, padding and checksum.
const HDR_DATA_LEN: usize = 0;
/// Offset of `version`.
const HDR_VERSION: usize = 4;
/// Offset of `tasks_num`.
const HDR_TASKS_NUM: usize = 8;
/// Offset of `tcb_sz`.
const HDR_TCB_SZ: usize = 12;
/// Offset of `mem_segs_num` (V2 and later).
const HDR_MEM_SEGS_NUM: usize = 16;
/// Offset of `chip_rev` in V2_1 headers.
const HDR_CHIP_REV: usize = 20;
/// Offset of `chip_rev` in V2_2 headers.
const HDR_V2_2_CHIP_REV: usize = 8;
/// Header length of V1: up to `tcb_sz`.
const HDR_LEN_V1: usize = 16;
/// Header length of V2: up to `mem_segs_num`.
const HDR_LEN_V2: usize = 20;
/// Header length of V2_1: up to `chip_rev`.
const HDR_LEN_V2_1: usize = 24;
/// Header length of V2_2: `data_len`, `version`, `chip_rev`.
const HDR_LEN_V2_2: usize = 12;

/// `data_len` of an erased partition: NOR flash erases to all ones.
const ERASED_WORD: u32 = u32::MAX;
/// A byte of erased flash.
const ERASED_BYTE: u8 = 0xFF;

impl ChecksumKind {
    /// Bytes of the stored checksum (esp-coredump `ESP_COREDUMP_CRC_SZ` = 4,
    /// `ESP_COREDUMP_SHA256_SZ` = 32).
    fn len(self) -> usize {
        match self {
            ChecksumKind::Crc32 => 4,
            ChecksumKind::Sha256 => 32,
        }
    }
}

/// Format facts per version (esp-coredump `corefile/loader.py`).
struct VersionInfo {
    name: &'static str,
    header_len: usize,
    checksum: ChecksumKind,
    body: BodyFormat,
    /// Offset of `chip_rev` in the header, if it has one.
    chip_rev_at: Option<usize>,
}

fn version_info(version: u32) -> Option<VersionInfo> {
    use BodyFormat::{Binary, Elf};
    use ChecksumKind::{Crc32, Sha256};
    let (name, header_len, checksum, body, chip_rev_at) = match format_of_version(version) {
        BIN_V1 => ("BIN_V1", HDR_LEN_V1, Crc32, Binary, None),
        BIN_V2 => ("BIN_V2", HDR_LEN_V2, Crc32, Binary, None),
        BIN_V2_1 => ("BIN_V2_1", HDR_LEN_V2_1, Crc32, Binary, Some(HDR_CHIP_REV)),
        ELF_CRC32_V2 => ("ELF_CRC32_V2", HDR_LEN_V2, Crc32, Elf, None),
        ELF_SHA256_V2 => ("ELF_SHA256_V2", HDR_LEN_V2, Sha256, Elf, None),
        ELF_CRC32_V2_1 => (
            "ELF_CRC32_V2_1",
            HDR_LEN_V2_1,
            Crc32,
            Elf,
            Some(HDR_CHIP_REV),
        ),
        ELF_SHA256_V2_1 => (
            "ELF_SHA256_V2_1",
            HDR_LEN_V2_1,
            Sha256,
            Elf,
            Some(HDR_CHIP_REV),
        ),
        ELF_SHA256_V2_2 => (
            "ELF_SHA256_V2_2",
            HDR_LEN_V2_2,
            Sha256,
            Elf,
            Some(HDR_V2_2_CHIP_REV),
        ),
        _ => return None,
    };
    Some(VersionInfo {
        name,
        header_len,
        checksum,
        body,
        chip_rev_at,
    })
}

/// The first 12 bytes of every ESP ELF core: `\x7fELF`, ELFCLASS32, ELFDATA2LSB,
/// EV_CURRENT, then zero padding of `e_ident`.
const ELF_IDENT_PREFIX: [u8; 12] = [0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0];
/// Bytes of an ELF `e_ident` (`EI_NIDENT`, ELF gABI).
const EI_NIDENT: usize = 16;
/// `e_type` of an ELF core file (`ET_CORE`, ELF gABI).
const ET_CORE: u16 = object::elf::ET_CORE.0;

/// How much of an input is looked at to tell text from binary.
const TEXT_SNIFF_LEN: usize = 4096;
/// ASCII escape, which starts the ANSI color sequences of UART logs.
const ESC: u8 = 0x1b;

/// Largest input accepted (a CAPTURE_DRAM dump of a chip with PSRAM stays well below this).
pub(crate) const MAX_INPUT: usize = 64 << 20;

/// Detects the container and returns the body.
pub(crate) fn unwrap(input: &[u8]) -> Result<Unwrapped, DecodeError> {
    if input.is_empty() {
        return Err(DecodeError::Empty);
    }
    if input.len() > MAX_INPUT {
        return Err(DecodeError::Malformed(format!(
            "input of {} bytes exceeds the {} byte limit",
            input.len(),
            MAX_INPUT
        )));
    }
    match unwrap_binary(input, Encoding::Raw)? {
        Some(u) => Ok(u),
        None => {
            if !looks_like_text(input) {
                return Err(DecodeError::NotACoreDump(
                    "no ELF magic, no known header version and not base64 text".into(),
                ));
            }
            let (decoded, mut notes) = decode_base64_lines(input);
            if decoded.is_empty() {
                return Err(DecodeError::NotACoreDump(
                    "text input without decodable base64 lines".into(),
                ));
            }
            let mut u = unwrap_binary(&decoded, Encoding::Base64)?.ok_or_else(|| {
                DecodeError::NotACoreDump(
                    "base64 text decodes to bytes with no ELF magic or known header".into(),
                )
            })?;
            notes.append(&mut u.warnings);
            u.warnings = notes;
            Ok(u)
        }
    }
}

/// Tries the binary forms (header image, bare ELF). `Ok(None)` means "not binary, try text".
fn unwrap_binary(data: &[u8], encoding: Encoding) -> Result<Option<Unwrapped>, DecodeError> {
    if data.starts_with(&object::elf::ELFMAG) {
        return Ok(Some(bare_elf(data.to_vec(), encoding, Vec::new())));
    }
    // Header-stripped V2_2 upload (an uploader that cuts a 24-byte header off a 12-byte one):
    // the body starts 12 bytes into the ELF header, at the rest of e_ident (4 zero bytes),
    // then e_type = ET_CORE and e_machine.
    let ident_len = ELF_IDENT_PREFIX.len();
    if let (Some(rest_of_ident), Some(e_type), Some(e_machine)) = (
        data.get(..EI_NIDENT - ident_len),
        u16_at(data, EI_NIDENT - ident_len),
        u16_at(data, EI_NIDENT - ident_len + 2),
    ) && rest_of_ident.iter().all(|&b| b == 0)
        && e_type == ET_CORE
        && Arch::from_e_machine(e_machine).is_some()
    {
        let mut body = ELF_IDENT_PREFIX.to_vec();
        body.extend_from_slice(data);
        return Ok(Some(bare_elf(
            body,
            encoding,
            vec![Warning::ShiftedElfRestored],
        )));
    }
    let (Some(data_len), Some(version)) = (u32_at(data, HDR_DATA_LEN), u32_at(data, HDR_VERSION))
    else {
        return Ok(None);
    };
    if data_len == ERASED_WORD {
        return Err(DecodeError::BlankPartition(data_len));
    }
    let Some(info) = version_info(version) else {
        return Ok(None);
    };
    if chip_of_version(version).is_none() {
        // A known minor but an unknown chip: likely text or garbage that happens to match.
        if encoding == Encoding::Raw && looks_like_text(data) {
            return Ok(None);
        }
    }
    partition_image(data, data_len, version, &info, encoding).map(Some)
}

fn bare_elf(body: Vec<u8>, encoding: Encoding, warnings: Vec<Warning>) -> Unwrapped {
    Unwrapped {
        encoding,
        body_format: BodyFormat::Elf,
        header: None,
        binary: None,
        checksum: ChecksumStatus::Absent,
        body,
        warnings,
    }
}

fn partition_image(
    data: &[u8],
    data_len: u32,
    version: u32,
    info: &VersionInfo,
    encoding: Encoding,
) -> Result<Unwrapped, DecodeError> {
    let mut warnings = Vec::new();
    let cs_len = info.checksum.len();
    let declared = data_len as usize;
    let min_len = info.header_len + cs_len;
    if declared < min_len {
        return Err(DecodeError::Malformed(format!(
            "header data_len {declared} is smaller than header plus checksum ({min_len})"
        )));
    }
    let Some(header) = data.get(..info.header_len) else {
        return Err(DecodeError::Malformed(format!(
            "{} header needs {} bytes, input has {}",
            info.name,
            info.header_len,
            data.len()
        )));
    };
    let chip_rev = info.chip_rev_at.and_then(|o| u32_at(header, o));
    let binary = (info.body == BodyFormat::Binary).then(|| BinaryHeader {
        task_num: u32_at(header, HDR_TASKS_NUM).unwrap_or(0),
        tcb_sz: u32_at(header, HDR_TCB_SZ).unwrap_or(0),
        // Absent (0) in V1 headers, which end before it.
        mem_segs_num: u32_at(header, HDR_MEM_SEGS_NUM).unwrap_or(0),
    });
    let (body_end, checksum) = if data.len() >= declared {
        if data.len() > declared {
            let extra = data.get(declared..).unwrap_or_default();
            if !extra.iter().all(|&b| b == ERASED_BYTE || b == 0) {
                warnings.push(Warning::TrailingBytesIgnored {
                    count: extra.len(),
                    data_len: declared,
                });
            }
        }
        let body_end = declared - cs_len;
        let covered = data.get(..body_end).unwrap_or_default();
        let stored = data.get(body_end..declared).unwrap_or_default();
        (body_end, verify(info.checksum, covered, stored))
    } else {
        warnings.push(Warning::ImageTruncated {
            data_len: declared,
            received: data.len(),
        });
        (
            data.len(),
            ChecksumStatus::Truncated {
                kind: info.checksum,
            },
        )
    };
    if let ChecksumStatus::Mismatch {
        stored, computed, ..
    } = &checksum
    {
        warnings.push(Warning::InvalidChecksum {
            stored: stored.clone(),
            computed: computed.clone(),
        });
    }
    let body = data
        .get(info.header_len..body_end)
        .unwrap_or_default()
        .to_vec();
    Ok(Unwrapped {
        encoding,
        body_format: info.body,
        header: Some(HeaderInfo {
            version,
            name: info.name.to_string(),
            header_len: info.header_len as u32,
            data_len,
            chip_rev,
        }),
        binary,
        checksum,
        body,
        warnings,
    })
}

/// Checks `stored` against the checksum of `covered` (header + body + flash padding).
fn verify(kind: ChecksumKind, covered: &[u8], stored: &[u8]) -> ChecksumStatus {
    match kind {
        ChecksumKind::Crc32 => {
            let computed = crc32fast::hash(covered);
            let stored = u32_at(stored, 0).unwrap_or(0);
            if computed == stored {
                ChecksumStatus::Valid {
                    kind,
                    value: format!("{computed:08x}"),
                }
            } else {
                ChecksumStatus::Mismatch {
                    kind,
                    stored: format!("{stored:08x}"),
                    computed: format!("{computed:08x}"),
                }
            }
        }
        ChecksumKind::Sha256 => {
            let computed = hex::encode(Sha256::digest(covered));
            let stored = hex::encode(stored);
            if computed == stored {
                ChecksumStatus::Valid {
                    kind,
                    value: computed,
                }
            } else {
                ChecksumStatus::Mismatch {
                    kind,
                    stored,
                    computed,
                }
            }
        }
    }
}

/// Mostly printable ASCII (base64 with some log noise).
fn looks_like_text(data: &[u8]) -> bool {
    let sample = data.get(..TEXT_SNIFF_LEN).unwrap_or(data);
    let texty = sample
        .iter()
        .filter(|&&b| {
            b == b'\n' || b == b'\r' || b == b'\t' || b == b' ' || b.is_ascii_graphic() || b == ESC
        })
        .count();
    // At least nine in ten bytes.
    texty * 10 >= sample.len() * 9
}

const START_MARKER: &str = "CORE DUMP START";
const END_MARKER: &str = "CORE DUMP END";

/// Decodes base64 text line by line. Lines between the START/END markers are used when
/// the markers are present, every line otherwise; lines that do not decode are skipped.
fn decode_base64_lines(text: &[u8]) -> (Vec<u8>, Vec<Warning>) {
    let text = String::from_utf8_lossy(text);
    let has_start = text.contains(START_MARKER);
    let mut inside = !has_start;
    let mut out = Vec::new();
    let mut skipped = 0usize;
    let mut blocks = 0usize;
    for raw in text.lines() {
        let line = strip_ansi(raw.trim_matches(|c: char| c.is_whitespace()));
        if line.contains(START_MARKER) {
            blocks += 1;
            // A second START restarts the capture: keep only the last complete block.
            out.clear();
            inside = true;
            continue;
        }
        if line.contains(END_MARKER) {
            if has_start {
                inside = false;
            }
            continue;
        }
        if !inside || line.is_empty() {
            continue;
        }
        match decode_line(&line) {
            Some(mut bytes) => out.append(&mut bytes),
            None => skipped += 1,
        }
    }
    let mut notes = Vec::new();
    if skipped > 0 {
        notes.push(Warning::NonBase64LinesSkipped { count: skipped });
    }
    if blocks > 1 {
        notes.push(Warning::SeveralDumpsInText { count: blocks });
    }
    (out, notes)
}

fn decode_line(line: &str) -> Option<Vec<u8>> {
    if !line.len().is_multiple_of(4)
        || !line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
    {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(line).ok()
}

/// Removes ANSI escape sequences (`ESC [ ... letter`) that colored UART logs carry.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == char::from(ESC) {
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if n.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}
