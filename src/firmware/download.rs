//! Conditional and partial GETs of a stored file, as plain functions: the strong ETag from a
//! SHA-256, `If-None-Match` (→ 304), `If-Range`, and a single `Range` (→ 206, or 416 when it
//! cannot be satisfied). ESP-IDF's `esp_https_ota` partial-download mode sends
//! `Range: bytes=<from>-<to>` requests; multi-range requests are answered with the whole file,
//! which RFC 9110 allows.

/// The strong ETag for a content hash (hex).
pub fn etag(sha256_hex: &str) -> String {
    format!("\"{sha256_hex}\"")
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison, as RFC 9110 §13.1.2
/// requires for this header; `*` matches any current representation).
pub fn none_match(header: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let want = bare(etag);
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || (!t.is_empty() && bare(t) == want))
}

/// What to send for a request on a representation of `len` bytes.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Plan {
    /// 200 with the whole body.
    Full,
    /// 206 with bytes `start..=end`.
    Partial {
        /// First byte sent (0-based).
        start: u64,
        /// Last byte sent, inclusive.
        end: u64,
    },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Decides from the `Range` and `If-Range` headers. A malformed or multi-range `Range` is
/// ignored (whole body); an `If-Range` that does not name the current ETag, too.
pub fn plan(range: Option<&str>, if_range: Option<&str>, etag: &str, len: u64) -> Plan {
    let Some(range) = range else {
        return Plan::Full;
    };
    if let Some(ir) = if_range {
        // Only strong ETags may validate a range (dates are not ours to compare).
        if ir.trim() != etag {
            return Plan::Full;
        }
    }
    let Some(spec) = range.trim().strip_prefix("bytes=") else {
        return Plan::Full;
    };
    if spec.contains(',') {
        return Plan::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Plan::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (a.is_empty(), num(a), num(b)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                Plan::Unsatisfiable
            } else {
                Plan::Partial {
                    start: len.saturating_sub(n),
                    end: len - 1,
                }
            }
        }
        // bytes=S- or bytes=S-E
        (false, Some(start), end) if b.is_empty() || end.is_some() => {
            if start >= len {
                return Plan::Unsatisfiable;
            }
            let end = end.map_or(len - 1, |e| e.min(len - 1));
            if end < start {
                // An invalid range-spec (last < first): ignore the header.
                Plan::Full
            } else {
                Plan::Partial { start, end }
            }
        }
        _ => Plan::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: &str = "\"abc\"";

    #[test]
    fn if_none_match() {
        assert!(none_match("\"abc\"", E));
        assert!(none_match("W/\"abc\"", E));
        assert!(none_match("\"x\", \"abc\"", E));
        assert!(none_match("*", E));
        assert!(!none_match("\"abd\"", E));
        assert!(!none_match("", E));
    }

    #[test]
    fn ranges() {
        let p = |r: &str| plan(Some(r), None, E, 100);
        assert_eq!(plan(None, None, E, 100), Plan::Full);
        assert_eq!(p("bytes=0-9"), Plan::Partial { start: 0, end: 9 });
        assert_eq!(p("bytes=90-"), Plan::Partial { start: 90, end: 99 });
        assert_eq!(p("bytes=90-500"), Plan::Partial { start: 90, end: 99 });
        assert_eq!(p("bytes=-10"), Plan::Partial { start: 90, end: 99 });
        assert_eq!(p("bytes=-500"), Plan::Partial { start: 0, end: 99 });
        assert_eq!(p("bytes=100-"), Plan::Unsatisfiable);
        assert_eq!(p("bytes=-0"), Plan::Unsatisfiable);
        assert_eq!(p("bytes=5-1"), Plan::Full);
        assert_eq!(p("bytes=0-1,5-6"), Plan::Full);
        assert_eq!(p("items=0-1"), Plan::Full);
        assert_eq!(p("bytes=x-1"), Plan::Full);
        assert_eq!(p("bytes=18446744073709551616-"), Plan::Full);
        assert_eq!(plan(Some("bytes=0-0"), None, E, 0), Plan::Unsatisfiable);
        assert_eq!(
            plan(Some("bytes=0-9"), Some("\"old\""), E, 100),
            Plan::Full,
            "stale If-Range gets the whole file"
        );
        assert_eq!(
            plan(Some("bytes=0-9"), Some(E), E, 100),
            Plan::Partial { start: 0, end: 9 }
        );
    }
}
