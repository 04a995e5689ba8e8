//! Container sniffing and unwrapping: turns whatever bytes arrived into a dump *body* (an ELF
//! core or a legacy binary dump) plus what the container said about it.
//!
//! Accepted inputs (spec §1):
//! - line-wise base64 text as printed over UART, with or without the
//!   `CORE DUMP START`/`CORE DUMP END` markers, `\r`, empty lines and log noise (each line is
//!   decoded on its own, because every 48-byte chunk carries its own `=` padding, §1.2);
//! - a raw flash partition image: `core_dump_header_t` (12/16/20/24 bytes, §1.3), body,
//!   flash padding and a CRC32 or SHA-256 checksum (§1.4). A bad checksum is a warning;
//! - a bare ELF core (header and checksum stripped by the device uploader), possibly followed
//!   by zero padding or checksum bytes, including the "shifted by 12" V2_2 case of §1.1.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bytes::u32_at;
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
    Valid { kind: ChecksumKind, value: String },
    /// They differ: the dump is untrusted, but decoding went on.
    Mismatch {
        kind: ChecksumKind,
        stored: String,
        computed: String,
    },
    /// The image is shorter than its `data_len`, so the checksum could not be read.
    Truncated { kind: ChecksumKind },
    /// No container header (bare ELF): nothing to check.
    Absent,
}

/// The container header fields that matter after unwrapping (spec §1.3).
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

/// Legacy binary header fields (§3).
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

/// Format facts per `version & 0xFFFF` (spec §1.3 table).
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
    let (name, header_len, checksum, body, chip_rev_at) = match version & 0xFFFF {
        0x0001 => ("BIN_V1", 16, Crc32, Binary, None),
        0x0002 => ("BIN_V2", 20, Crc32, Binary, None),
        0x0003 => ("BIN_V2_1", 24, Crc32, Binary, Some(20)),
        0x0100 => ("ELF_CRC32_V2", 20, Crc32, Elf, None),
        0x0101 => ("ELF_SHA256_V2", 20, Sha256, Elf, None),
        0x0102 => ("ELF_CRC32_V2_1", 24, Crc32, Elf, Some(20)),
        0x0103 => ("ELF_SHA256_V2_1", 24, Sha256, Elf, Some(20)),
        0x0104 => ("ELF_SHA256_V2_2", 12, Sha256, Elf, Some(8)),
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

/// The first 12 bytes of every ESP ELF core (spec §1.1): ELF32, LE, version 1, zero padding.
const ELF_IDENT_PREFIX: [u8; 12] = [0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0];

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
    if data.starts_with(b"\x7fELF") {
        return Ok(Some(bare_elf(data.to_vec(), encoding, Vec::new())));
    }
    // Header-stripped V2_2 upload (pvginkel uploader, §1.1): the body starts 12 bytes into the
    // ELF header: rest of e_ident (4 zero bytes), e_type = 4, e_machine = 0x5E/0xF3.
    if let Some(b) = data.get(..8)
        && b[..6] == [0, 0, 0, 0, 4, 0]
        && (b[6] == 0x5E || b[6] == 0xF3)
        && b[7] == 0
    {
        let mut body = ELF_IDENT_PREFIX.to_vec();
        body.extend_from_slice(data);
        return Ok(Some(bare_elf(
            body,
            encoding,
            vec![Warning::ShiftedElfRestored],
        )));
    }
    let (Some(data_len), Some(version)) = (u32_at(data, 0), u32_at(data, 4)) else {
        return Ok(None);
    };
    if data_len == 0xFFFF_FFFF {
        return Err(DecodeError::BlankPartition(data_len));
    }
    let Some(info) = version_info(version) else {
        return Ok(None);
    };
    if super::chip::Chip::from_id((version >> 16) as u16).is_none() {
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
    let cs_len = match info.checksum {
        ChecksumKind::Crc32 => 4usize,
        ChecksumKind::Sha256 => 32,
    };
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
        task_num: u32_at(header, 8).unwrap_or(0),
        tcb_sz: u32_at(header, 12).unwrap_or(0),
        mem_segs_num: if info.header_len >= 20 {
            u32_at(header, 16).unwrap_or(0)
        } else {
            0
        },
    });
    let (body_end, checksum) = if data.len() >= declared {
        if data.len() > declared {
            let extra = data.get(declared..).unwrap_or_default();
            if !extra.iter().all(|&b| b == 0xFF || b == 0) {
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

/// Checks `stored` against the checksum of `covered` (header + body + padding, §1.4).
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
    let sample = data.get(..4096).unwrap_or(data);
    let texty = sample
        .iter()
        .filter(|&&b| {
            b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b) || b == 0x1b
        })
        .count();
    texty * 10 >= sample.len() * 9
}

const START_MARKER: &str = "CORE DUMP START";
const END_MARKER: &str = "CORE DUMP END";

/// Decodes base64 text line by line (§1.2). Lines between the START/END markers are used when
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
        if c == '\u{1b}' {
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
