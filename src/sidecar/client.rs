//! The client end of the parse-sidecar protocol ([`super::wire`]), as the original Python
//! system spoke it: the dump and the app ELF are copied into the transfer dir shared with the
//! sidecar, then `GET {PARSE_SIDECAR_URL}/parse-coredump?core=…&elf=…&chip=…` with basenames
//! only. Unlike the original, the transfer files are named per job and run
//! (`crashbox-<id>-<nonce>.dmp` / `.elf`, so two versions of one model never share an ELF), are
//! removed on every path (a drop guard), and the answer is read with a size cap.
//!
//! [`Sidecar::parse`] makes up to [`MAX_ATTEMPTS`] requests with a short backoff, one log line
//! and one `crashbox_coredump_parse_attempts_total` count per attempt. A 4xx other than
//! 408/429 is not retried (the sidecar rejected the request itself). Before each attempt the
//! caller's gate may stop the loop (shutting down, or the job was superseded).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand::RngExt;

use std::sync::Arc;
use std::time::Instant;

use super::wire;
use crate::config::SidecarConfig;
use crate::ids::CoredumpId;
use crate::metrics::Metrics;
use crate::store;

/// Largest sidecar answer accepted.
pub const MAX_RESPONSE_BYTES: u64 = 8 << 20;
/// Prefix of every transfer file crashbox writes.
pub const XFER_PREFIX: &str = "crashbox-";
/// Requests per job.
pub const MAX_ATTEMPTS: u32 = 3;
/// Pauses before the second and third attempt.
pub const BACKOFF: [Duration; 2] = [Duration::from_millis(250), Duration::from_millis(750)];

/// What the caller's gate says before an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Make the attempt.
    Go,
    /// Shutting down: give the job back.
    Stopping,
    /// The job was deleted or re-queued meanwhile: drop it.
    Superseded,
}

/// How [`Sidecar::parse`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A 2xx answer's report text.
    Output(String),
    /// Every attempt failed (or one could not be retried); the last attempt's reason.
    Failed(String),
    /// The gate stopped the loop.
    Stopped(Gate),
}

/// Why one attempt failed; `message` is what ends up after `Unable to parse coredump: `.
#[derive(Debug, Clone)]
struct AttemptError {
    message: String,
    /// `false` when another attempt cannot help (the sidecar rejected the request itself with a
    /// 4xx other than 408/429).
    retryable: bool,
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
    /// The dump's file name in the transfer dir.
    pub core: String,
    /// The ELF's file name in the transfer dir.
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
    metrics: Arc<Metrics>,
}

impl Sidecar {
    /// A client for the configured sidecar; attempts are counted in `metrics`.
    pub fn new(config: &SidecarConfig, metrics: Arc<Metrics>) -> Sidecar {
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
            metrics,
        }
    }

    /// The sidecar's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The transfer folder shared with the sidecar.
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

    /// The most time [`Sidecar::parse`] can take: every attempt timing out, plus the pauses.
    pub fn max_duration(&self) -> Duration {
        self.timeout * MAX_ATTEMPTS + BACKOFF.iter().sum::<Duration>()
    }

    /// Asks the sidecar for the report of a staged dump: up to [`MAX_ATTEMPTS`] requests.
    /// `gate` is asked before each attempt with the pause to take first (zero before the
    /// first); it may sleep and may end the loop. Its error ends the loop too.
    pub fn parse<E>(
        &self,
        id: CoredumpId,
        staged: &Staged,
        chip: &str,
        mut gate: impl FnMut(Duration) -> Result<Gate, E>,
    ) -> Result<Parsed, E> {
        let mut last = String::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let pause = match attempt {
                1 => Duration::ZERO,
                n => BACKOFF
                    .get(n as usize - 2)
                    .or(BACKOFF.last())
                    .copied()
                    .unwrap_or_default(),
            };
            match gate(pause)? {
                Gate::Go => {}
                stopped => return Ok(Parsed::Stopped(stopped)),
            }
            tracing::info!(
                "Parsing coredump {id} (attempt {attempt}/{MAX_ATTEMPTS}): core={}, elf={}, chip={chip}",
                staged.core,
                staged.elf,
            );
            let t = Instant::now();
            let result = self.request(staged, chip);
            let outcome = if result.is_ok() { "ok" } else { "failed" };
            Metrics::count(&self.metrics.parse_attempts, outcome);
            let secs = t.elapsed().as_secs_f64();
            match result {
                Ok(output) => {
                    tracing::info!("Parsed coredump {id} with the sidecar in {secs:.3}s");
                    return Ok(Parsed::Output(output));
                }
                Err(e) => {
                    tracing::warn!(
                        "Parsing coredump {id} failed (attempt {attempt}/{MAX_ATTEMPTS}) after {secs:.3}s: {}",
                        e.message
                    );
                    last = e.message;
                    if !e.retryable {
                        break;
                    }
                }
            }
        }
        Ok(Parsed::Failed(last))
    }

    /// One request. `Ok` is the report text of a 2xx JSON object answer.
    fn request(&self, staged: &Staged, chip: &str) -> Result<String, AttemptError> {
        let endpoint = format!("{}{}", self.url, wire::PARSE_PATH);
        let mut resp = self
            .agent
            .get(&endpoint)
            .query(wire::CORE_PARAM, &staged.core)
            .query(wire::ELF_PARAM, &staged.elf)
            .query(wire::CHIP_PARAM, chip)
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
            if let Some(detail) = wire::error_detail(&body) {
                message.push_str(": ");
                message.push_str(&detail);
            }
            return Err(AttemptError {
                message,
                retryable: !(400..500).contains(&code) || code == 408 || code == 429,
            });
        }
        wire::output_of(&body).map_err(AttemptError::transient)
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
