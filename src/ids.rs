//! Typed identifiers and the validated strings that end up in file paths.
//!
//! Each type is parsed once at the edge (HTTP, CLI) and is then safe to use in a path or query.

use std::fmt;

use rand::RngExt;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(
            /// The row id in the database.
            pub i64,
        );
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
        impl FromSql for $name {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(v).map($name)
            }
        }
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }
    };
}

/// `FromSql`/`ToSql` for a validated string type: a stored value that does not pass `parse` is
/// a column error (the row is refused), never silently accepted.
macro_rules! sql_string {
    ($name:ident) => {
        impl FromSql for $name {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = v.as_str()?;
                $name::parse(s).ok_or_else(|| {
                    FromSqlError::Other(format!("invalid {} {s:?}", stringify!($name)).into())
                })
            }
        }
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.0.as_str()))
            }
        }
    };
}

int_id!(
    /// A device's row id.
    DeviceId
);
int_id!(
    /// A stored core dump's row id.
    CoredumpId
);
int_id!(
    /// A device model's row id.
    ModelId
);
int_id!(
    /// An API token's row id.
    TokenId
);
int_id!(
    /// A dashboard user's row id.
    UserId
);
int_id!(
    /// A crash group's row id.
    GroupId
);

/// A device model code: `^[a-z0-9_]{1,50}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ModelCode(String);

impl ModelCode {
    /// The validation message for a code that does not parse.
    pub const INVALID: &'static str =
        "Model code must contain only lowercase letters, numbers, and underscores";

    /// The code, or `None` unless `s` is 1–50 characters of `[a-z0-9_]`.
    pub fn parse(s: &str) -> Option<ModelCode> {
        let ok = (1..=50).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then(|| ModelCode(s.to_string()))
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A device key: 8 characters of `[a-z2-7]` (5 random bytes, base32, lower case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct DeviceKey(String);

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

impl DeviceKey {
    /// The key, or `None` unless `s` is exactly 8 characters of `[a-z2-7]`.
    pub fn parse(s: &str) -> Option<DeviceKey> {
        let ok = s.len() == 8 && s.bytes().all(|b| BASE32.contains(&b));
        ok.then(|| DeviceKey(s.to_string()))
    }

    /// Five random bytes, base32-encoded: exactly 8 characters.
    pub fn generate() -> DeviceKey {
        let bytes: [u8; 5] = rand::rng().random();
        let bits = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let key = (0..8)
            .rev()
            .map(|i| BASE32[((bits >> (i * 5)) & 31) as usize] as char)
            .collect();
        DeviceKey(key)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A firmware version string that is safe in a file name: `[A-Za-z0-9._+-]`, 1–31 characters
/// (ESP-IDF's `esp_app_desc_t.version` is 32 bytes with a terminating NUL), not `.`/`..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct FirmwareVersion(String);

impl FirmwareVersion {
    /// The version, or `None` unless `s` is 1–31 characters of `[A-Za-z0-9._+-]` and not `.`/`..`.
    pub fn parse(s: &str) -> Option<FirmwareVersion> {
        let ok = (1..=31).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
            && s != "."
            && s != "..";
        ok.then(|| FirmwareVersion(s.to_string()))
    }
    /// The version as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

sql_string!(ModelCode);
sql_string!(DeviceKey);
sql_string!(FirmwareVersion);

/// A point in time as crashbox stores it: UTC, shown and stored as RFC 3339 with microseconds
/// and `Z` (`2026-11-22T03:11:54.451028Z`), which also sorts correctly as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(chrono::DateTime<chrono::Utc>);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp(chrono::Utc::now())
    }

    /// Parses any RFC 3339 time (the stored form included).
    pub fn parse(s: &str) -> Option<Timestamp> {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| Timestamp(t.with_timezone(&chrono::Utc)))
    }

    /// The time as a `chrono` value.
    pub fn as_datetime(&self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }
}

impl From<chrono::DateTime<chrono::Utc>> for Timestamp {
    fn from(t: chrono::DateTime<chrono::Utc>) -> Timestamp {
        Timestamp(t)
    }
}

impl std::ops::Sub<chrono::Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: chrono::Duration) -> Timestamp {
        Timestamp(self.0 - d)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromSql for Timestamp {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = v.as_str()?;
        Timestamp::parse(s)
            .ok_or_else(|| FromSqlError::Other(format!("invalid timestamp {s:?}").into()))
    }
}

impl ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

/// Checks a device-reported metadata value (`chip`, `firmware_version`): at most 64 printable
/// characters. Returns a message naming the field when it is not.
pub fn check_device_field(name: &str, value: &str) -> Result<(), String> {
    if value.chars().count() > 64 {
        return Err(format!(
            "Query parameter {name} is longer than 64 characters"
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(format!(
            "Query parameter {name} contains non-printable characters"
        ));
    }
    if value.chars().any(crate::terminal::is_bidi_control) {
        return Err(format!(
            "Query parameter {name} contains bidirectional control characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse() {
        for _ in 0..100 {
            let k = DeviceKey::generate();
            assert!(DeviceKey::parse(k.as_str()).is_some(), "{k}");
        }
    }

    #[test]
    fn versions_reject_path_tricks() {
        assert!(FirmwareVersion::parse("v1.2.3-4-gabc+dirty").is_some());
        for bad in ["", ".", "..", "../x", "a/b", "a b", "a\\b", &"x".repeat(32)] {
            assert!(FirmwareVersion::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn timestamps_round_trip_in_the_stored_form() {
        let s = "2026-11-22T03:11:54.451028Z";
        let t = Timestamp::parse(s).unwrap();
        assert_eq!(t.to_string(), s);
        assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(s));
        assert!(Timestamp::parse("yesterday").is_none());
    }

    #[test]
    fn stored_values_are_checked_when_read() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let read = |v: &str| -> rusqlite::Result<DeviceKey> {
            conn.query_row("SELECT ?1", [v], |r| r.get(0))
        };
        assert_eq!(read("abcdefgh").unwrap().as_str(), "abcdefgh");
        assert!(read("../etc").is_err());
        let v: FirmwareVersion = conn
            .query_row("SELECT ?1", [FirmwareVersion::parse("1.0").unwrap()], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(v.as_str(), "1.0");
    }

    #[test]
    fn model_codes() {
        assert!(ModelCode::parse("temp_sensor2").is_some());
        assert!(ModelCode::parse("Temp").is_none());
        assert!(ModelCode::parse(&"a".repeat(51)).is_none());
    }
}
