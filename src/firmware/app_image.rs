//! The ESP-IDF app image (`.bin`): reading the firmware version out of its `esp_app_desc_t`,
//! as the original Python system did. Pure: bytes in, version or the original error text out.
//!
//! Layout (ESP-IDF `esp_app_format.h`): `esp_image_header_t` (24 bytes) and the first
//! `esp_image_segment_header_t` (8 bytes) precede the app descriptor, so `esp_app_desc_t`
//! starts at byte 32: `magic_word` u32 LE at +0, `version` char[32] at +16 (bytes 48..80).

use crate::error::{Error, Result};

/// `ESP_APP_DESC_MAGIC_WORD`.
pub const APP_DESC_MAGIC: u32 = 0xABCD_5432;
/// Offset of `esp_app_desc_t` in the image.
pub const APP_DESC_OFFSET: usize = 32;
/// Offset of `esp_app_desc_t.version` in the image.
pub const VERSION_OFFSET: usize = APP_DESC_OFFSET + 16;
/// Length of the `version` field in bytes (NUL-padded).
pub const VERSION_LEN: usize = 32;
/// Shortest image that holds the version field.
pub const MIN_LEN: usize = VERSION_OFFSET + VERSION_LEN;

/// The `version` string of the image's app descriptor, with upstream's checks and texts.
/// No trimming and no charset check here (that is [`crate::ids::FirmwareVersion`]'s job).
pub fn version(bin: &[u8]) -> Result<String> {
    let invalid = |m: String| Error::Validation(format!("Invalid firmware: {m}"));
    let (Some(magic), Some(field)) = (
        bin.get(APP_DESC_OFFSET..APP_DESC_OFFSET + 4),
        bin.get(VERSION_OFFSET..MIN_LEN),
    ) else {
        return Err(invalid(format!(
            "binary too short (minimum {MIN_LEN} bytes required)"
        )));
    };
    let magic = u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]);
    if magic != APP_DESC_MAGIC {
        return Err(invalid(format!(
            "magic number mismatch (expected 0x{APP_DESC_MAGIC:08X}, got 0x{magic:08X})"
        )));
    }
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let text = std::str::from_utf8(&field[..end])
        .map_err(|e| invalid(format!("cannot decode version string: {e}")))?;
    if text.is_empty() {
        return Err(invalid("empty version string".into()));
    }
    Ok(text.to_string())
}

/// A minimal valid app image as the original system's test helper builds it: 288 bytes with the
/// descriptor filled in, then `extra` filler bytes. For tests, benchmarks and examples.
pub fn synthetic_image(version: &str, extra: usize) -> Vec<u8> {
    fn padded(out: &mut Vec<u8>, s: &[u8], len: usize) {
        let n = s.len().min(len);
        out.extend_from_slice(&s[..n]);
        out.resize(out.len() + (len - n), 0);
    }
    let mut out = vec![0u8; APP_DESC_OFFSET];
    out.extend_from_slice(&APP_DESC_MAGIC.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]); // secure_version
    out.extend_from_slice(&[0u8; 8]); // reserv1
    padded(&mut out, version.as_bytes(), 32);
    padded(&mut out, b"test_project", 32);
    padded(&mut out, b"12:00:00", 16);
    padded(&mut out, b"Jan 01 2024", 16);
    padded(&mut out, b"v5.0", 32);
    out.extend_from_slice(&[0u8; 32]); // app_elf_sha256
    out.resize(APP_DESC_OFFSET + 256, 0);
    out.extend((0..extra).map(|i| (i % 251) as u8));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version() {
        let img = synthetic_image("1.2.3", 0);
        assert_eq!(img.len(), 288);
        assert_eq!(version(&img).unwrap(), "1.2.3");
        let full = synthetic_image(&"v".repeat(40), 0);
        assert_eq!(
            version(&full).unwrap(),
            "v".repeat(32),
            "no NUL: all 32 bytes"
        );
    }

    #[test]
    fn upstream_error_texts() {
        let msg = |b: &[u8]| version(b).unwrap_err().to_string();
        assert_eq!(
            msg(&[0u8; 79]),
            "Invalid firmware: binary too short (minimum 80 bytes required)"
        );
        assert_eq!(
            msg(&[0u8; 80]),
            "Invalid firmware: magic number mismatch (expected 0xABCD5432, got 0x00000000)"
        );
        let mut img = synthetic_image("", 0);
        assert_eq!(msg(&img), "Invalid firmware: empty version string");
        img[48] = 0xff;
        assert!(msg(&img).starts_with("Invalid firmware: cannot decode version string: "));
        img[32] = 0x33;
        assert!(msg(&img).ends_with("got 0xABCD5433)"), "{}", msg(&img));
    }
}
