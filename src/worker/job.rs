//! One parse job, one outcome (upstream-spec §10 steps 1–7, with §17's fixes).
//!
//! 1. Claim the `PENDING` row for this run; a row that is gone, finished or held by a live run
//!    is skipped.
//! 2. Read the dump. Its row gone meanwhile → a quiet no-op; only the file gone → `ERROR`
//!    `Unable to parse coredump: .dmp file not found at <path>`.
//! 3. Find the app ELF of the dump's model and firmware version. None → `ERROR` `Unable to parse
//!    coredump: firmware ZIP not found for <model> version <version>` (the sidecar is not called;
//!    the bundle upload re-queues such dumps).
//! 4. Decode in-process ([`super::native`]); the structured analysis is stored in both modes.
//! 5. With a sidecar: up to [`MAX_ATTEMPTS`] requests with a short backoff, one log line per
//!    attempt; then `PARSED` with its output, or `ERROR` with the last attempt's error. Without:
//!    the built-in report decides.
//! 6. Record the result while the claim still holds (a re-queued or deleted dump drops it).
//!
//! A stop request between attempts gives the job back (`PENDING`), so shutdown waits for at most
//! one sidecar request.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngExt;

use super::Jobs;
use super::elf_cache::ElfCache;
use super::native::{Native, NativeOutcome};
use super::pool::Stop;
use super::sidecar::Sidecar;
use crate::db::coredumps::ParseStatus;
use crate::db::{self, Db, parse_jobs};
use crate::ids::{CoredumpId, DeviceKey};
use crate::metrics::Metrics;
use crate::store::Layout;

/// Sidecar requests per job.
pub const MAX_ATTEMPTS: u32 = 3;
/// Runs that may be interrupted (worker panicked or process killed) before a dump is given up.
pub const MAX_RUNS: u32 = 3;
/// Prefix of every `ERROR` text.
pub const ERROR_PREFIX: &str = "Unable to parse coredump: ";

/// The `ERROR` text of a dump whose firmware bundle (or its ELF) is missing; the firmware
/// service matches it to re-queue those dumps when the bundle arrives.
pub fn firmware_missing_message(model_code: &str, version: &str) -> String {
    format!("{ERROR_PREFIX}firmware ZIP not found for {model_code} version {version}")
}

/// Everything the workers share.
pub struct Ctx {
    pub db: Db,
    pub layout: Layout,
    pub sidecar: Option<Sidecar>,
    pub native: Native,
    pub elves: ElfCache,
    pub metrics: Arc<Metrics>,
    pub jobs: Jobs,
    pub stop: Arc<Stop>,
    /// How long a claim holds before it counts as abandoned.
    pub lease: Duration,
    /// Pause before attempt 2, 3, ….
    pub backoff: Vec<Duration>,
}

/// How a job ended for the worker.
#[derive(Debug, PartialEq, Eq)]
pub enum Ran {
    /// Recorded as `PARSED`.
    Parsed,
    /// Recorded as `ERROR`.
    Failed,
    /// Not claimable (finished, deleted, or another run holds it).
    Skipped,
    /// The dump was deleted or re-queued while it ran: nothing recorded.
    Dropped,
    /// Given back unfinished (stopping).
    Released,
    /// The run panicked; the job is queued again (or given up after [`MAX_RUNS`]).
    Crashed,
}

enum Outcome {
    Done {
        status: ParseStatus,
        output: String,
        analysis: Option<String>,
    },
    Gone,
    Released,
}

impl Outcome {
    fn error(reason: impl std::fmt::Display, analysis: Option<String>) -> Outcome {
        Outcome::Done {
            status: ParseStatus::Error,
            output: format!("{ERROR_PREFIX}{reason}"),
            analysis,
        }
    }
}

fn stale_before(lease: Duration) -> String {
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
    db::format_ts(chrono::Utc::now() - lease)
}

/// The cut-off before which a claim is abandoned.
pub fn claim_cutoff(ctx: &Ctx) -> String {
    stale_before(ctx.lease)
}

/// Runs the job for dump `id` to one outcome. Never panics; database errors are logged and the
/// job is left for the next sweep.
pub fn run(ctx: &Ctx, id: CoredumpId) -> Ran {
    match run_inner(ctx, id) {
        Ok(ran) => ran,
        Err(e) => {
            tracing::error!(id = %id, error = %e, "parse job failed on the database; left for the next sweep");
            Ran::Skipped
        }
    }
}

fn run_inner(ctx: &Ctx, id: CoredumpId) -> Result<Ran, db::DbError> {
    let token = format!("{:032x}", rand::rng().random::<u128>());
    let cutoff = claim_cutoff(ctx);
    let runs = match ctx
        .db
        .write(|tx| parse_jobs::claim(tx, id, &token, &cutoff))?
    {
        Some(runs) => runs,
        None => return Ok(Ran::Skipped),
    };
    let started = Instant::now();
    if runs > MAX_RUNS {
        let reason = format!(
            "parsing was interrupted {} times (the worker crashed or the server was killed)",
            runs - 1
        );
        tracing::error!(id = %id, "{reason}; giving up");
        return record(ctx, id, &token, Outcome::error(reason, None), started);
    }
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| execute(ctx, id, &token)));
    match outcome {
        Ok(Ok(outcome)) => record(ctx, id, &token, outcome, started),
        Ok(Err(e)) => {
            ctx.db
                .write(|tx| parse_jobs::release(tx, id, &token, false))?;
            Err(e)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(id = %id, run = runs, panic = %what, "parse job panicked; queueing it again");
            ctx.db
                .write(|tx| parse_jobs::release(tx, id, &token, true))?;
            ctx.jobs.enqueue(id);
            Ok(Ran::Crashed)
        }
    }
}

fn record(
    ctx: &Ctx,
    id: CoredumpId,
    token: &str,
    outcome: Outcome,
    started: Instant,
) -> Result<Ran, db::DbError> {
    let (status, output, analysis) = match outcome {
        Outcome::Done {
            status,
            output,
            analysis,
        } => (status, output, analysis),
        Outcome::Gone => {
            tracing::info!(id = %id, "coredump was deleted or re-queued while parsing; nothing recorded");
            count(ctx, "dropped", started);
            return Ok(Ran::Dropped);
        }
        Outcome::Released => {
            ctx.db
                .write(|tx| parse_jobs::release(tx, id, token, false))?;
            tracing::info!(id = %id, "stopping: parse job left PENDING for the next start");
            return Ok(Ran::Released);
        }
    };
    let recorded = ctx.db.write(|tx| {
        parse_jobs::finish(tx, id, token, status, Some(&output), analysis.as_deref())
    })?;
    if !recorded {
        tracing::info!(id = %id, "coredump was deleted or re-queued while parsing; result dropped");
        count(ctx, "dropped", started);
        return Ok(Ran::Dropped);
    }
    let secs = started.elapsed().as_secs_f64();
    if status == ParseStatus::Parsed {
        tracing::info!(id = %id, "parsed coredump {id} in {secs:.3}s");
        count(ctx, "parsed", started);
        Ok(Ran::Parsed)
    } else {
        tracing::warn!(id = %id, "coredump {id} not parsed after {secs:.3}s: {output}");
        count(ctx, "error", started);
        Ok(Ran::Failed)
    }
}

fn count(ctx: &Ctx, outcome: &str, started: Instant) {
    let labels = Metrics::outcome(outcome);
    ctx.metrics.parses.get_or_create(&labels).inc();
    ctx.metrics
        .parse_duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
}

fn execute(ctx: &Ctx, id: CoredumpId, token: &str) -> Result<Outcome, db::DbError> {
    if ctx.stop.stopping() {
        return Ok(Outcome::Released);
    }
    let Some(job) = parse_jobs::job(&*ctx.db.conn()?, id)? else {
        return Ok(Outcome::Gone);
    };
    let holds = || -> Result<bool, db::DbError> { parse_jobs::holds(&*ctx.db.conn()?, id, token) };

    // 2. The dump.
    let path =
        DeviceKey::parse(&job.device_key).and_then(|k| ctx.layout.coredump_path(&k, &job.filename));
    let Some(path) = path else {
        return Ok(Outcome::error(
            format!("invalid stored file name {:?}", job.filename),
            None,
        ));
    };
    let dump = match std::fs::read(&path) {
        Ok(d) => d,
        Err(_) if !holds()? => return Ok(Outcome::Gone),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let shown = std::path::absolute(&path).unwrap_or(path);
            return Ok(Outcome::error(
                format!(".dmp file not found at {}", shown.display()),
                None,
            ));
        }
        Err(e) => {
            return Ok(Outcome::error(
                format!("cannot read {}: {e}", path.display()),
                None,
            ));
        }
    };

    // 3. The app ELF of that version.
    let elf = match ctx
        .elves
        .get(&ctx.db, &ctx.layout, &job.model_code, &job.firmware_version)
    {
        Ok(elf) => elf,
        Err(e) => {
            return Ok(Outcome::error(
                format!("cannot read firmware bundle: {e}"),
                None,
            ));
        }
    };

    // 4. The built-in decoder: its analysis is stored in both modes.
    let NativeOutcome { analysis, report } = ctx.native.decode(&dump, elf.as_ref(), &job.chip);

    let Some(elf) = elf else {
        tracing::warn!(id = %id, model = %job.model_code, version = %job.firmware_version, "no firmware ELF for coredump");
        return Ok(Outcome::Done {
            status: ParseStatus::Error,
            output: firmware_missing_message(&job.model_code, &job.firmware_version),
            analysis,
        });
    };

    // 5. The sidecar's text when one is configured, else the built-in report.
    match (&ctx.sidecar, report) {
        (Some(sidecar), _) => with_sidecar(ctx, sidecar, &job, token, &dump, &elf.bytes, analysis),
        (None, Ok(text)) => Ok(Outcome::Done {
            status: ParseStatus::Parsed,
            output: text,
            analysis,
        }),
        (None, Err(reason)) => Ok(Outcome::error(reason, analysis)),
    }
}

fn with_sidecar(
    ctx: &Ctx,
    sidecar: &Sidecar,
    job: &parse_jobs::Job,
    token: &str,
    dump: &[u8],
    elf: &[u8],
    analysis: Option<String>,
) -> Result<Outcome, db::DbError> {
    let id = job.id;
    let staged = match sidecar.stage(id, dump, elf) {
        Ok(s) => s,
        Err(e) => {
            let reason = format!(
                "cannot write to the transfer dir {}: {e}",
                sidecar.xfer_dir().display()
            );
            return Ok(Outcome::error(reason, analysis));
        }
    };
    let mut last = String::new();
    for attempt in 1..=MAX_ATTEMPTS {
        if attempt > 1 {
            let pause = ctx
                .backoff
                .get(attempt as usize - 2)
                .or(ctx.backoff.last())
                .copied()
                .unwrap_or_default();
            if ctx.stop.sleep(pause) {
                return Ok(Outcome::Released);
            }
        }
        if !parse_jobs::holds(&*ctx.db.conn()?, id, token)? {
            return Ok(Outcome::Gone);
        }
        tracing::info!(
            "Parsing coredump {id} (attempt {attempt}/{MAX_ATTEMPTS}): core={}, elf={}, chip={}",
            staged.core,
            staged.elf,
            job.chip
        );
        let t = Instant::now();
        match sidecar.request(&staged, &job.chip) {
            Ok(output) => {
                ctx.metrics
                    .parse_attempts
                    .get_or_create(&Metrics::outcome("ok"))
                    .inc();
                tracing::info!(
                    "Parsed coredump {id} with the sidecar in {:.3}s",
                    t.elapsed().as_secs_f64()
                );
                return Ok(Outcome::Done {
                    status: ParseStatus::Parsed,
                    output,
                    analysis,
                });
            }
            Err(e) => {
                ctx.metrics
                    .parse_attempts
                    .get_or_create(&Metrics::outcome("failed"))
                    .inc();
                tracing::warn!(
                    "Parsing coredump {id} failed (attempt {attempt}/{MAX_ATTEMPTS}) after {:.3}s: {}",
                    t.elapsed().as_secs_f64(),
                    e.message
                );
                last = e.message;
                if !e.retryable {
                    break;
                }
            }
        }
    }
    drop(staged);
    Ok(Outcome::error(last, analysis))
}
