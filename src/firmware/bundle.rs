//! Firmware ZIP bundles: the original Python system's checks (exact texts, same order) plus the
//! hardening it lacked — an entry-count cap, plain member names only, no duplicate names,
//! per-member and total uncompressed-size caps enforced while decompressing (zip bombs), and a
//! `version.json` that must be a UTF-8 JSON object. Pure: bytes in, the checked parts out; the
//! ELF, map and sdkconfig are decompressed once (to verify size and CRC) but not kept.

use std::collections::BTreeSet;
use std::io::{Read, Seek};

use serde_json::{Map, Value};
use zip::ZipArchive;
use zip::result::ZipError;

use crate::error::{Error, Result};
use crate::ids::ModelCode;

/// `PK\x03\x04`: the local file header signature a ZIP starts with.
pub const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";

/// Fields `version.json` must have.
pub const VERSION_JSON_FIELDS: [&str; 3] = ["firmware_version", "git_commit", "idf_version"];

/// Caps applied to a bundle's content.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries in the central directory (a valid bundle has 5).
    pub max_entries: usize,
    /// Uncompressed bytes of any one member.
    pub max_member: u64,
    /// Uncompressed bytes of all members together.
    pub max_total: u64,
    /// Uncompressed bytes of the app image (the largest ESP32 app partition is 16 MiB).
    pub max_bin: u64,
    /// Bytes of `version.json`.
    pub max_version_json: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_entries: 64,
            max_member: 256 << 20,
            max_total: 512 << 20,
            max_bin: 16 << 20,
            max_version_json: 64 << 10,
        }
    }
}

/// What a valid bundle yields.
#[derive(Debug)]
pub struct Bundle {
    /// The app image `<code>.bin`.
    pub bin: Vec<u8>,
    /// `version.json` (an object with at least [`VERSION_JSON_FIELDS`]).
    pub info: Map<String, Value>,
}

/// Whether `bytes` look like a ZIP (upstream `is_zip_content`).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(ZIP_MAGIC)
}

fn invalid(m: impl std::fmt::Display) -> Error {
    Error::Validation(format!("Invalid firmware ZIP: {m}"))
}

/// A member name as it may appear in an error: escaped and shortened.
fn shown(name: &str) -> String {
    let mut s: String = name.chars().take(80).collect();
    if s.len() < name.len() {
        s.push('…');
    }
    if s.chars().any(|c| c.is_control()) {
        format!("{s:?}")
    } else {
        s
    }
}

fn listed<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    names
        .into_iter()
        .map(|n| shown(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A flat file name: no folders, no `..`, not absolute, no NUL, not empty.
pub fn is_plain_member_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !(name.len() >= 2 && name.as_bytes().get(1) == Some(&b':'))
}

/// The names of the five members a bundle for `code` must contain, sorted.
pub fn expected_members(code: &ModelCode) -> BTreeSet<String> {
    [
        format!("{code}.bin"),
        format!("{code}.elf"),
        format!("{code}.map"),
        "sdkconfig".to_string(),
        "version.json".to_string(),
    ]
    .into_iter()
    .collect()
}

/// Reads one member fully, refusing more than `cap` uncompressed bytes (whatever its header
/// claims) and surfacing CRC errors. `Ok(None)` when there is no such member.
pub fn read_member<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    name: &str,
    cap: u64,
) -> Result<Option<Vec<u8>>> {
    let mut file = match archive.by_name(name) {
        Ok(f) => f,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(invalid(format!("cannot read {}: {e}", shown(name)))),
    };
    if file.size() > cap {
        return Err(too_large(name, file.size(), cap));
    }
    let mut out = Vec::with_capacity(file.size().min(cap) as usize);
    (&mut file)
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| invalid(format!("cannot read {}: {e}", shown(name))))?;
    if out.len() as u64 > cap {
        return Err(too_large(name, out.len() as u64, cap));
    }
    Ok(Some(out))
}

/// Decompresses a member without keeping it; returns its real uncompressed size.
fn verify_member<R: Read + Seek>(archive: &mut ZipArchive<R>, name: &str, cap: u64) -> Result<u64> {
    let mut file = archive
        .by_name(name)
        .map_err(|e| invalid(format!("cannot read {}: {e}", shown(name))))?;
    if file.size() > cap {
        return Err(too_large(name, file.size(), cap));
    }
    let n = std::io::copy(&mut (&mut file).take(cap + 1), &mut std::io::sink())
        .map_err(|e| invalid(format!("cannot read {}: {e}", shown(name))))?;
    if n > cap {
        return Err(too_large(name, n, cap));
    }
    Ok(n)
}

fn too_large(name: &str, size: u64, cap: u64) -> Error {
    invalid(format!(
        "{} is too large ({size} bytes uncompressed, at most {cap})",
        shown(name)
    ))
}

/// Checks a bundle for model `code`; the first failure wins, in upstream's order where
/// upstream has the check.
pub fn check(code: &ModelCode, zip_bytes: &[u8], limits: &Limits) -> Result<Bundle> {
    // 1. It must open as a ZIP (Python's text for the common case, as upstream reports it).
    let mut archive = ZipArchive::new(std::io::Cursor::new(zip_bytes)).map_err(|e| match e {
        ZipError::InvalidArchive(_) => invalid("File is not a zip file"),
        other => invalid(other),
    })?;
    // 2. Hardening: entry count, duplicates, plain names.
    if archive.len() > limits.max_entries {
        return Err(invalid(format!(
            "too many entries ({}, at most {})",
            archive.len(),
            limits.max_entries
        )));
    }
    if archive.has_duplicate_names() {
        return Err(invalid("duplicate member names"));
    }
    let mut names = BTreeSet::new();
    for name in archive.file_names() {
        let name = name.map_err(invalid)?;
        names.insert(name.into_owned());
    }
    let unsafe_names: Vec<&String> = names.iter().filter(|n| !is_plain_member_name(n)).collect();
    if !unsafe_names.is_empty() {
        return Err(invalid(format!(
            "member names must be plain file names (no folders, '..' or absolute paths): {}",
            listed(unsafe_names)
        )));
    }
    // 3. Exactly the five members: missing before unexpected.
    let expected = expected_members(code);
    let missing: Vec<&String> = expected.difference(&names).collect();
    if !missing.is_empty() {
        return Err(invalid(format!("missing {}", listed(missing))));
    }
    let extra: Vec<&String> = names.difference(&expected).collect();
    if !extra.is_empty() {
        return Err(invalid(format!("unexpected files: {}", listed(extra))));
    }
    // 4. Zip-bomb caps on the declared sizes, then on the real ones while decompressing.
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).map_err(invalid)?;
        declared = declared.saturating_add(f.size());
        if f.size() > limits.max_member {
            let name = f.name().map(|n| n.into_owned()).unwrap_or_default();
            return Err(too_large(&name, f.size(), limits.max_member));
        }
    }
    if declared > limits.max_total {
        return Err(total_too_large(declared, limits.max_total));
    }
    // 5. version.json: UTF-8, JSON, an object, with the required fields.
    let raw = read_member(&mut archive, "version.json", limits.max_version_json)?
        .ok_or_else(|| invalid("missing version.json"))?;
    let text = std::str::from_utf8(&raw)
        .map_err(|e| invalid(format!("version.json is not valid UTF-8: {e}")))?;
    let json: Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("version.json is not valid JSON: {e}")))?;
    let Value::Object(info) = json else {
        return Err(invalid("version.json must be a JSON object"));
    };
    let absent: Vec<String> = VERSION_JSON_FIELDS
        .iter()
        .filter(|f| !info.contains_key(**f))
        .map(|f| f.to_string())
        .collect();
    if !absent.is_empty() {
        return Err(invalid(format!(
            "version.json missing fields: {}",
            absent.join(", ")
        )));
    }
    // 6. The app image, then the other members (size and CRC), all within the caps.
    let bin_name = format!("{code}.bin");
    let bin = read_member(
        &mut archive,
        &bin_name,
        limits.max_bin.min(limits.max_member),
    )?
    .ok_or_else(|| invalid(format!("missing {bin_name}")))?;
    let mut total = raw.len() as u64 + bin.len() as u64;
    for name in [
        format!("{code}.elf"),
        format!("{code}.map"),
        "sdkconfig".into(),
    ] {
        total = total.saturating_add(verify_member(&mut archive, &name, limits.max_member)?);
        if total > limits.max_total {
            return Err(total_too_large(total, limits.max_total));
        }
    }
    Ok(Bundle { bin, info })
}

fn total_too_large(size: u64, cap: u64) -> Error {
    invalid(format!(
        "content too large ({size} bytes uncompressed in total, at most {cap})"
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;
    use crate::firmware::app_image::synthetic_image;

    fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        for (name, data) in members {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn code() -> ModelCode {
        ModelCode::parse("ts").unwrap()
    }

    const VJ: &[u8] = br#"{"git_commit":"abc","idf_version":"v5.1","firmware_version":"1.0"}"#;

    fn good(bin: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("ts.bin", bin.to_vec()),
            ("ts.elf", b"\x7fELF".to_vec()),
            ("ts.map", b"map".to_vec()),
            ("sdkconfig", b"CONFIG_X=y".to_vec()),
            ("version.json", VJ.to_vec()),
        ]
    }

    fn check_members(members: &[(&str, Vec<u8>)], limits: &Limits) -> Result<Bundle> {
        let refs: Vec<(&str, &[u8])> = members.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        check(&code(), &zip_of(&refs), limits)
    }

    fn err(members: &[(&str, Vec<u8>)], limits: &Limits) -> String {
        check_members(members, limits).unwrap_err().to_string()
    }

    #[test]
    fn valid_bundle() {
        let bin = synthetic_image("1.0", 10);
        let b = check_members(&good(&bin), &Limits::default()).unwrap();
        assert_eq!(b.bin, bin);
        assert_eq!(b.info["git_commit"], "abc");
    }

    #[test]
    fn zip_detection() {
        assert!(is_zip(b"PK\x03\x04rest"));
        assert!(!is_zip(b"PK"));
        assert!(!is_zip(b""));
        assert!(!is_zip(&synthetic_image("1", 0)));
        assert_eq!(
            check(&code(), b"PK\x03\x04garbage", &Limits::default())
                .unwrap_err()
                .to_string(),
            "Invalid firmware ZIP: File is not a zip file"
        );
    }

    #[test]
    fn caps_are_enforced_on_real_sizes() {
        let bin = synthetic_image("1.0", 0);
        let small = Limits {
            max_member: 1000,
            max_total: 1500,
            ..Limits::default()
        };
        let mut m = good(&bin);
        m[1].1 = vec![0u8; 1001];
        assert_eq!(
            err(&m, &small),
            "Invalid firmware ZIP: ts.elf is too large (1001 bytes uncompressed, at most 1000)"
        );
        let mut m = good(&bin);
        m[1].1 = vec![0u8; 900];
        m[2].1 = vec![0u8; 900];
        assert!(err(&m, &small).contains("in total, at most 1500"));
        let tiny_bin = Limits {
            max_bin: 100,
            ..Limits::default()
        };
        assert!(err(&good(&bin), &tiny_bin).contains("ts.bin is too large"));
    }

    #[test]
    fn names_and_counts() {
        let bin = synthetic_image("1.0", 0);
        let mut m = good(&bin);
        m.push(("../evil", b"x".to_vec()));
        assert!(err(&m, &Limits::default()).contains("plain file names"));
        let few = Limits {
            max_entries: 4,
            ..Limits::default()
        };
        assert_eq!(
            err(&good(&bin), &few),
            "Invalid firmware ZIP: too many entries (5, at most 4)"
        );
        assert!(!is_plain_member_name("/abs"));
        assert!(!is_plain_member_name("C:x"));
        assert!(!is_plain_member_name("a\\b"));
        assert!(is_plain_member_name("ts.bin"));
    }
}
