//! The client end of the parse-sidecar protocol (seed brief; upstream-spec §10), kept exactly:
//! the dump and the app ELF are copied into the transfer dir shared with the sidecar, then
//!
//! ```text
//! GET {PARSE_SIDECAR_URL}/parse-coredump?core=<dump file>&elf=<elf file>&chip=<chip>
//! → 2xx {"output": "<report text>"}
//! ```
//!
//! with basenames only. Unlike upstream, the transfer files are named per job and run
//! (`crashbox-<id>-<nonce>.dmp` / `.elf`, so two versions of one model never share an ELF), are
//! removed on every path (a drop guard), and the answer is read with a size cap.
//!
//! This module does one attempt; retries, backoff and logging are the job's (`job.rs`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand::RngExt;

use crate::config::SidecarConfig;
use crate::ids::CoredumpId;
use crate::store;

/// Largest sidecar answer accepted.
pub const MAX_RESPONSE_BYTES: u64 = 8 << 20;
/// Prefix of every transfer file crashbox writes.
pub const XFER_PREFIX: &str = "crashbox-";

/// Why one attempt failed; `message` is what ends up after `Unable to parse coredump: `.
#[derive(Debug, Clone)]
pub struct AttemptError {
    pub message: String,
    /// `false` when another attempt cannot help (the sidecar rejected the request itself with a
    /// 4xx other than 408/429).
    pub retryable: bool,
}

impl AttemptError {
    fn transient(message: String) -> AttemptError {
        AttemptError {
            message,
            retryable: true,
        }
    }
}

/// The dump and ELF of one job in the transfer dir; both files are removed when this drops.
#[derive(Debug)]
pub struct Staged {
    pub core: String,
    pub elf: String,
    dir: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        store::remove_quietly(&self.dir.join(&self.core));
        store::remove_quietly(&self.dir.join(&self.elf));
    }
}

/// A configured sidecar.
pub struct Sidecar {
    agent: ureq::Agent,
    url: String,
    xfer_dir: PathBuf,
    timeout: Duration,
}

impl Sidecar {
    pub fn new(config: &SidecarConfig) -> Sidecar {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("crashbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Sidecar {
            agent,
            url: config.url.trim_end_matches('/').to_string(),
            xfer_dir: config.xfer_dir.clone(),
            timeout: config.timeout,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn xfer_dir(&self) -> &Path {
        &self.xfer_dir
    }

    /// Copies the dump and the ELF into the transfer dir under names unique to this run.
    pub fn stage(&self, id: CoredumpId, dump: &[u8], elf: &[u8]) -> io::Result<Staged> {
        std::fs::create_dir_all(&self.xfer_dir)?;
        let nonce: u32 = rand::rng().random();
        let stem = format!("{XFER_PREFIX}{id}-{nonce:08x}");
        let staged = Staged {
            core: format!("{stem}.dmp"),
            elf: format!("{stem}.elf"),
            dir: self.xfer_dir.clone(),
        };
        write_new(&self.xfer_dir.join(&staged.core), dump)?;
        write_new(&self.xfer_dir.join(&staged.elf), elf)?;
        Ok(staged)
    }

    /// One request. `Ok` is the report text of a 2xx JSON object answer.
    pub fn request(&self, staged: &Staged, chip: &str) -> Result<String, AttemptError> {
        let endpoint = format!("{}/parse-coredump", self.url);
        let mut resp = self
            .agent
            .get(&endpoint)
            .query("core", &staged.core)
            .query("elf", &staged.elf)
            .query("chip", chip)
            .call()
            .map_err(|e| AttemptError::transient(self.describe(&e)))?;
        let status = resp.status();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| AttemptError::transient(self.describe(&e)))?;
        if !status.is_success() {
            let code = status.as_u16();
            let mut message = format!("sidecar answered HTTP {status} for {endpoint}");
            if let Some(detail) = error_detail(&body) {
                message.push_str(": ");
                message.push_str(&detail);
            }
            return Err(AttemptError {
                message,
                retryable: !(400..500).contains(&code) || code == 408 || code == 429,
            });
        }
        output_of(&body).map_err(AttemptError::transient)
    }

    fn describe(&self, e: &ureq::Error) -> String {
        match e {
            ureq::Error::Timeout(_) => format!(
                "sidecar request timed out after {}s ({})",
                self.timeout.as_secs_f64(),
                self.url
            ),
            ureq::Error::BodyExceedsLimit(n) => {
                format!("sidecar answer is larger than {n} bytes")
            }
            ureq::Error::Io(io) => format!("sidecar I/O error ({}): {io}", self.url),
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                format!("cannot connect to sidecar at {}: {e}", self.url)
            }
            other => format!("sidecar request failed ({}): {other}", self.url),
        }
    }

    /// Removes transfer files of runs that did not get to clean up (the process was killed).
    /// Only crashbox's own names, and only older than `age`, so a second instance sharing the
    /// dir is not disturbed.
    pub fn sweep_stale_files(&self, age: Duration) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.xfer_dir) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let ours =
                name.starts_with(XFER_PREFIX) && (name.ends_with(".dmp") || name.ends_with(".elf"));
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|d| d > age);
            if ours && old {
                store::remove_quietly(&e.path());
                removed += 1;
            }
        }
        removed
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.flush()
}

/// The `output` of a success answer: the body must be a JSON object; a missing `output` is an
/// empty report (as upstream), a non-string one is an error.
fn output_of(body: &[u8]) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("sidecar answer is not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| format!("sidecar answer is not a JSON object: {}", kind(&v)))?;
    match obj.get("output") {
        None | Some(serde_json::Value::Null) => Ok(String::new()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "sidecar answer has a non-string output: {}",
            kind(other)
        )),
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A short reason from a failed answer: its JSON `error`, else the start of its text.
fn error_detail(body: &[u8]) -> Option<String> {
    const MAX: usize = 300;
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => match v.get("error").and_then(|e| e.as_str()) {
            Some(e) => e.to_string(),
            None => return None,
        },
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    Some(match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rules() {
        assert_eq!(output_of(br#"{"output":"x"}"#).unwrap(), "x");
        assert_eq!(output_of(br#"{}"#).unwrap(), "");
        assert!(
            output_of(br#"["x"]"#)
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(output_of(b"hello").unwrap_err().contains("not JSON"));
        assert!(output_of(br#"{"output":3}"#).is_err());
    }

    #[test]
    fn error_detail_prefers_json_error() {
        assert_eq!(
            error_detail(br#"{"error":"no  gdb\nfor esp32"}"#).as_deref(),
            Some("no gdb for esp32")
        );
        assert_eq!(error_detail(br#"{"x":1}"#), None);
        assert_eq!(error_detail(b"").as_deref(), None);
        let long = "a".repeat(1000);
        assert!(error_detail(long.as_bytes()).unwrap().chars().count() <= 301);
    }
}
