//! Firmware version order: which of two version strings is newer.
//!
//! A version is `[v]N(.N)*[-PRE][-C-gHASH][-dirty][+BUILD]`:
//! - `N(.N)*`: any number of numeric components, compared numerically; missing ones count as
//!   0 (`1.4` = `1.4.0`).
//! - `-PRE`: a semver pre-release (`rc.1`, `beta-2`), which sorts before the release.
//!   Identifiers are compared as semver does: numbers numerically, numbers before words,
//!   words by ASCII, a shorter list first when one is a prefix of the other.
//! - `-C-gHASH`: `git describe`'s "C commits past the tag" (`1.4.0-3-gabcdef`), which sorts
//!   after the tag (and after fewer commits). Two builds with the same count are equal.
//! - `-dirty`: `git describe --dirty`, which sorts just after the same version without it.
//! - `+BUILD`: build metadata, ignored.
//!
//! Anything else (a bare commit hash, a date, `1.x`) is not a version: [`compare`] returns
//! `None` and the caller falls back to upload order.

use std::cmp::Ordering;

/// Orders two firmware versions (see the module doc), or `None` when either is not a
/// version this module understands.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let a = Version::parse(a)?;
    let b = Version::parse(b)?;
    Some(a.cmp_to(&b))
}

/// A parsed version; the strings borrow from the input.
#[derive(Debug)]
struct Version<'a> {
    /// Numeric components, leading zeros removed (`"0"` stays `"0"`).
    release: Vec<&'a str>,
    /// Pre-release identifiers (empty for a release).
    pre: Vec<&'a str>,
    /// `git describe` commit count past the tag (0 for the tag itself).
    commits: Option<&'a str>,
    /// `-dirty` suffix.
    dirty: bool,
}

impl<'a> Version<'a> {
    fn parse(text: &'a str) -> Option<Version<'a>> {
        let text = text.trim();
        let text = text.split_once('+').map_or(text, |(v, _build)| v);
        let text = text
            .strip_prefix('v')
            .or_else(|| text.strip_prefix('V'))
            .unwrap_or(text);
        let (text, dirty) = match text.strip_suffix("-dirty") {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let (text, commits) = split_describe(text);
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (text, None),
        };
        let release = core
            .split('.')
            .map(|c| is_number(c).then(|| strip_zeros(c)))
            .collect::<Option<Vec<_>>>()?;
        let pre = match pre {
            None => Vec::new(),
            Some(p) => p
                .split('.')
                .map(|id| {
                    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
                        .then_some(id)
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(Version {
            release,
            pre,
            commits,
            dirty,
        })
    }

    fn cmp_to(&self, other: &Version<'_>) -> Ordering {
        cmp_release(&self.release, &other.release)
            .then_with(|| cmp_pre(&self.pre, &other.pre))
            .then_with(|| {
                let a = self.commits.unwrap_or("0");
                let b = other.commits.unwrap_or("0");
                cmp_numbers(a, b)
            })
            .then_with(|| self.dirty.cmp(&other.dirty))
    }
}

/// Splits a trailing `git describe` suffix `-<count>-g<hex>` off `text`, returning the rest
/// and the count without leading zeros.
fn split_describe(text: &str) -> (&str, Option<&str>) {
    let Some((rest, hash)) = text.rsplit_once("-g") else {
        return (text, None);
    };
    if hash.len() < 4 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (text, None);
    }
    let Some((base, count)) = rest.rsplit_once('-') else {
        return (text, None);
    };
    if !is_number(count) || base.is_empty() {
        return (text, None);
    }
    (base, Some(strip_zeros(count)))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn strip_zeros(s: &str) -> &str {
    let t = s.trim_start_matches('0');
    if t.is_empty() { "0" } else { t }
}

/// Compares two digit strings without leading zeros, of any length.
fn cmp_numbers(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Numeric components, the shorter list padded with zeros.
fn cmp_release(a: &[&str], b: &[&str]) -> Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            cmp_numbers(
                a.get(i).copied().unwrap_or("0"),
                b.get(i).copied().unwrap_or("0"),
            )
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Semver pre-release precedence; no pre-release sorts after any pre-release.
fn cmp_pre(a: &[&str], b: &[&str]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    for (x, y) in a.iter().zip(b) {
        let o = match (is_number(x), is_number(y)) {
            (true, true) => cmp_numbers(strip_zeros(x), strip_zeros(y)),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn ordered_pairs() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0.0", "1.0.0", Equal),
            ("v1.0.0", "1.0.0", Equal),
            ("V2", "2.0.0", Equal),
            ("1.4", "1.4.0", Equal),
            ("1.4.0.0", "1.4", Equal),
            ("1.2.3", "1.2.4", Less),
            ("1.10.0", "1.9.0", Greater),
            ("1.2.3.4", "1.2.3", Greater),
            ("2", "10", Less),
            ("01.02", "1.2", Equal),
            (
                "99999999999999999999999.0",
                "99999999999999999999998.9",
                Greater,
            ),
            // Pre-releases sort before the release, by semver precedence.
            ("1.0.0-rc.1", "1.0.0", Less),
            ("1.0.0-alpha", "1.0.0-alpha.1", Less),
            ("1.0.0-alpha.1", "1.0.0-alpha.beta", Less),
            ("1.0.0-alpha.beta", "1.0.0-beta", Less),
            ("1.0.0-beta.2", "1.0.0-beta.11", Less),
            ("1.0.0-beta.11", "1.0.0-rc.1", Less),
            ("1.0.0-rc1", "0.9.9", Greater),
            ("1.0.0-beta-2", "1.0.0-beta-10", Greater), // one word identifier: ASCII order
            // git describe: commits past a tag sort after it.
            ("1.4.0-3-gabcdef", "1.4.0", Greater),
            ("1.4.0-3-gabcdef", "1.4.1", Less),
            ("1.4.0-3-gabcdef", "1.4.0-12-g0123456", Less),
            ("1.4.0-3-gabcdef", "1.4.0-3-g999999", Equal),
            ("v1.4.0-rc.1-2-gdeadbeef", "1.4.0-rc.1", Greater),
            ("v1.4.0-rc.1-2-gdeadbeef", "1.4.0-rc.2", Less),
            ("v1.4.0-rc.1-2-gdeadbeef", "1.4.0", Less),
            ("1.4.0-dirty", "1.4.0", Greater),
            ("1.4.0-dirty", "1.4.0-1-gabcd", Less),
            ("1.4.0-3-gabcdef-dirty", "1.4.0-3-gabcdef", Greater),
            // Build metadata is ignored.
            ("1.0.0+build.5", "1.0.0+build.9", Equal),
            ("1.0.0-rc.1+exp.sha.5114f85", "1.0.0", Less),
            (" 1.0.0 ", "1.0.0", Equal),
        ];
        for &(a, b, want) in cases {
            assert_eq!(compare(a, b), Some(want), "compare({a:?}, {b:?})");
            assert_eq!(compare(b, a), Some(want.reverse()), "compare({b:?}, {a:?})");
        }
    }

    #[test]
    fn not_versions() {
        for bad in [
            "",
            "v",
            "abcdef1",
            "1.x",
            "1..2",
            "1.2.",
            ".1",
            "1.0.0-",
            "1.0.0-rc..1",
            "1.0.0-rc_1",
            "release one",
            "1.0 beta",
        ] {
            assert_eq!(compare(bad, "1.0.0"), None, "{bad:?}");
            assert_eq!(compare("1.0.0", bad), None, "{bad:?}");
        }
    }
}
