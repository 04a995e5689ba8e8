//! What every test that depends on something outside the repository shares: the one way to
//! skip ([`skip`]), where `../shared` is ([`shared_dir`], overridable with
//! `CRASHBOX_SHARED_DIR`), the corpus cases ([`corpus_case`]) and one `#[test]` per corpus case
//! ([`corpus_cases!`]).
//!
//! Included as `mod support;` by the test files that need it, and as `common::support` by
//! `tests/common/mod.rs`.
#![allow(dead_code, unused_macros, unused_imports)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// True when the environment says this is CI (`CI=true` or `CI=1`): nothing may be skipped.
pub fn under_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

/// Writes one line to the process's real stderr. libtest captures `eprintln!` (and shows it
/// only for failing tests); a direct write to the stderr handle is not captured.
pub fn tell(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// The name of the running test: libtest names each test's thread after it.
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string()
}

/// The one way a test skips: says `SKIPPED <test>: <reason>` on the real stderr (so it shows
/// in a plain `cargo test`), or, under `CI=true`, fails the test instead. Use as
/// `return skip("...")` where the test cannot go on.
#[track_caller]
pub fn skip(reason: &str) {
    let test = test_name();
    if under_ci() {
        panic!("{test}: {reason}; this is required under CI=true");
    }
    tell(&format!("SKIPPED {test}: {reason}"));
}

/// `../shared` beside the crate, or `$CRASHBOX_SHARED_DIR` when set (point it at a missing
/// folder to see the tests skip).
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("CRASHBOX_SHARED_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

/// `<shared>/corpus/esp-coredump`, present or not.
pub fn corpus_path() -> PathBuf {
    shared_dir().join("corpus/esp-coredump")
}

/// `<shared>/corpus/esp-coredump` if present (silently `None`: callers that need it skip).
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = corpus_path();
    dir.is_dir().then_some(dir)
}

/// The corpus folder, or a [`skip`] (and `None`) when it is absent.
#[track_caller]
pub fn corpus_or_skip() -> Option<PathBuf> {
    let dir = corpus_dir();
    if dir.is_none() {
        skip(&format!("{} is absent", corpus_path().display()));
    }
    dir
}

/// The folder of one corpus case, or a [`skip`] (and `None`) when it is absent.
#[track_caller]
pub fn corpus_case(case: &str) -> Option<PathBuf> {
    let dir = corpus_path().join(case);
    if dir.join("coredump.b64").is_file() {
        Some(dir)
    } else {
        skip(&format!("corpus case {} is absent", dir.display()));
        None
    }
}

/// The partition image of a corpus case: its `coredump.b64` decoded line by line (each line is
/// its own base64 chunk), or `None` when the file is absent. A line that is not base64 fails.
pub fn corpus_image(case_dir: &Path) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = std::fs::read_to_string(case_dir.join("coredump.b64")).ok()?;
    let mut raw = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let chunk = base64::engine::general_purpose::STANDARD
            .decode(line)
            .unwrap_or_else(|e| panic!("{}: {e}: {line:?}", case_dir.display()));
        raw.extend(chunk);
    }
    Some(raw)
}

/// The case folders present in the corpus (those with a `coredump.b64`), sorted.
pub fn corpus_case_names() -> Vec<String> {
    let Some(dir) = corpus_dir() else {
        return Vec::new();
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("coredump.b64").is_file())
                .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// One `#[test]` per corpus case, so a failure names its case:
/// `corpus_cases!(check: esp32, esp32c3)` defines `mod check` with `#[test] fn esp32()`
/// calling `check("esp32")`, and `check::CASES`. The check function starts with
/// `let Some(dir) = support::corpus_case(case) else { return };`.
macro_rules! corpus_cases {
    ($check:ident: $($case:ident),+ $(,)?) => {
        mod $check {
            /// The cases this file has a test for.
            pub const CASES: &[&str] = &[$(stringify!($case)),+];
            $(
                #[test]
                fn $case() {
                    super::$check(stringify!($case));
                }
            )+
        }
    };
}
pub(crate) use corpus_cases;

/// Fails when the corpus has a case that `applies` to a test file but is not in its
/// `corpus_cases!` list (`listed`), so a new case cannot go untested.
#[track_caller]
pub fn assert_corpus_cases_listed(listed: &[&str], applies: impl Fn(&Path) -> bool) {
    let Some(dir) = corpus_or_skip() else {
        return;
    };
    let missing: Vec<String> = corpus_case_names()
        .into_iter()
        .filter(|c| !listed.contains(&c.as_str()) && applies(&dir.join(c)))
        .collect();
    assert!(
        missing.is_empty(),
        "corpus cases in {} without a test (add them to corpus_cases!): {missing:?}",
        dir.display()
    );
}
