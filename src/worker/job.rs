//! One parse job, one outcome (the original system's parse steps, with its weaknesses fixed:
//! claims, typed outcomes, retries that stop on shutdown).
//!
//! 1. Claim the `PENDING` row for this run; a row that is gone, finished or held by a live run
//!    is skipped.
//! 2. Read the dump. Its row gone meanwhile → a quiet no-op; only the file gone → `ERROR`
//!    `Unable to parse coredump: .dmp file not found at <path>`.
//! 3. Find the symbolization index of the dump's model and firmware version (`firmware::index`;
//!    rebuilt from the bundle's app ELF when missing or unusable). No ELF → `ERROR` of kind
//!    `firmware_missing`, text `Unable to parse coredump: firmware ZIP not found for <model>
//!    version <version>` (the sidecar is not called; the bundle upload re-queues such dumps by
//!    their kind).
//! 4. Decode in-process with the pool's [`Engine`]; the structured analysis is stored in both
//!    modes.
//! 5. With a sidecar: [`Sidecar::parse`] (retries inside); then `PARSED` with its output, or
//!    `ERROR` with the last attempt's error. Without: the built-in report decides.
//! 6. Record the result while the claim still holds (a re-queued or deleted dump drops it).
//!
//! Claims, give-backs and results are derived state, written with [`Db::write_relaxed`]: a
//! commit that holds only such writes skips the WAL fsync. A power loss may undo it (never a
//! process crash: the WAL is in the page cache); the dump is then `PENDING` or `PROCESSING` again
//! and start-up decodes it again — its group, events and halt with it, in one transaction.
//!
//! A stop request between attempts gives the job back (`PENDING`), so shutdown waits for at most
//! one sidecar request.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngExt;

use super::Jobs;
use super::elf_cache::ElfCache;
use super::pool::Stop;
use crate::db::coredumps::{ParseErrorKind, Verdict};
use crate::db::{self, Db, parse_jobs};
use crate::decode::{self, Analysis, Engine};
use crate::firmware::index::{self as firmware_index, Symbols};
use crate::groups::service::group_dump;
use crate::ids::CoredumpId;
use crate::metrics::Metrics;
use crate::sidecar::Sidecar;
use crate::sidecar::client::{Gate, Parsed};
use crate::store::{Layout, spares};

/// Runs that may be interrupted (worker panicked or process killed) before a dump is given up.
pub const MAX_RUNS: u32 = 3;
/// Prefix of every `ERROR` text.
pub const ERROR_PREFIX: &str = "Unable to parse coredump: ";

/// The `ERROR` text of a dump whose firmware bundle (or its ELF) is missing (the original
/// system's wording; the row's kind is [`ParseErrorKind::FirmwareMissing`]).
pub fn firmware_missing_message(model_code: &str, version: &str) -> String {
    format!("{ERROR_PREFIX}firmware ZIP not found for {model_code} version {version}")
}

/// Everything the workers share.
pub struct Ctx {
    /// The database (rows, claims, results).
    pub db: Db,
    /// Where the dumps and firmware are stored.
    pub layout: Layout,
    /// The parse sidecar; `None` when none is configured.
    pub sidecar: Option<Sidecar>,
    /// The built-in decoder, shared by every worker.
    pub engine: Engine,
    /// Recently used app ELFs, for the sidecar (the built-in decoder reads the version's index).
    pub elves: ElfCache,
    /// Where parse outcomes are counted.
    pub metrics: Arc<Metrics>,
    /// The job queue, to put back a job whose run panicked.
    pub jobs: Jobs,
    /// Set when the pool is shutting down; checked between steps and attempts.
    pub stop: Arc<Stop>,
    /// How long a claim holds before it counts as abandoned.
    pub lease: Duration,
    /// Wakes the notification sender after a result commit queued an event.
    pub notify: crate::notify::Wake,
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
        verdict: Verdict,
        output: String,
        analysis: Option<Box<Analysis>>,
    },
    Gone,
    Released,
}

impl Outcome {
    fn error(
        kind: ParseErrorKind,
        reason: impl std::fmt::Display,
        analysis: Option<Box<Analysis>>,
    ) -> Outcome {
        Outcome::Done {
            verdict: Verdict::Failed(kind),
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
        .write_relaxed(|tx| parse_jobs::claim(tx, id, &token, &cutoff))?
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
        let given_up = Outcome::error(ParseErrorKind::Interrupted, reason, None);
        return record(ctx, id, &token, given_up, started);
    }
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| execute(ctx, id, &token)));
    match outcome {
        Ok(Ok(outcome)) => record(ctx, id, &token, outcome, started),
        Ok(Err(e)) => {
            ctx.db
                .write_relaxed(|tx| parse_jobs::release(tx, id, &token, false))?;
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
                .write_relaxed(|tx| parse_jobs::release(tx, id, &token, true))?;
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
    let (verdict, output, analysis) = match outcome {
        Outcome::Done {
            verdict,
            output,
            analysis,
        } => (verdict, output, analysis),
        Outcome::Gone => {
            tracing::info!(id = %id, "coredump was deleted or re-queued while parsing; nothing recorded");
            count(ctx, "dropped", started);
            return Ok(Ran::Dropped);
        }
        Outcome::Released => {
            ctx.db
                .write_relaxed(|tx| parse_jobs::release(tx, id, token, false))?;
            tracing::info!(id = %id, "stopping: parse job left PENDING for the next start");
            return Ok(Ran::Released);
        }
    };
    let json = analysis
        .as_ref()
        .and_then(|a| serde_json::to_string(a).ok());
    let report = (verdict == Verdict::Parsed).then_some(output.as_str());
    let (recorded, notified) = ctx.db.write_relaxed(|tx| {
        let recorded = parse_jobs::finish(tx, id, token, verdict, Some(&output), json.as_deref())?;
        // The dump's crash group (and its notification event) is decided in the same commit
        // as its result.
        let mut notified = false;
        if recorded {
            notified = group_dump(tx, id, analysis.as_deref(), report)?.is_some_and(|g| g.notified);
        }
        Ok::<_, db::DbError>((recorded, notified))
    })?;
    if notified {
        ctx.notify.wake();
    }
    if !recorded {
        tracing::info!(id = %id, "coredump was deleted or re-queued while parsing; result dropped");
        count(ctx, "dropped", started);
        return Ok(Ran::Dropped);
    }
    let secs = started.elapsed().as_secs_f64();
    if verdict == Verdict::Parsed {
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
    Metrics::count(&ctx.metrics.parses, outcome);
    let labels = Metrics::outcome(outcome);
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
    let Some(path) = ctx.layout.coredump_path(&job.device_key, &job.filename) else {
        return Ok(Outcome::error(
            ParseErrorKind::DumpUnreadable,
            format!("invalid stored file name {:?}", job.filename),
            None,
        ));
    };
    let dump = match spares::read_named(&path) {
        Ok(d) => d,
        Err(_) if !holds()? => return Ok(Outcome::Gone),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let shown = std::path::absolute(&path).unwrap_or(path);
            return Ok(Outcome::error(
                ParseErrorKind::DumpUnreadable,
                format!(".dmp file not found at {}", shown.display()),
                None,
            ));
        }
        Err(e) => {
            return Ok(Outcome::error(
                ParseErrorKind::DumpUnreadable,
                format!("cannot read {}: {e}", path.display()),
                None,
            ));
        }
    };

    // 3. The firmware of that version: its symbolization index (rebuilt from the bundle's ELF
    //    when missing or unusable).
    let symbols = match firmware_index::symbols_for(
        &ctx.db,
        &ctx.layout,
        job.model_code.as_str(),
        &job.firmware_version,
    ) {
        Ok(s) => s,
        Err(e) => return Ok(firmware_unreadable(e)),
    };

    // 4. The built-in decoder: its analysis is stored in both modes.
    let (analysis, report) = built_in(&ctx.engine, &job, &dump, &symbols);

    if matches!(symbols, Symbols::Missing) {
        tracing::warn!(id = %id, model = %job.model_code, version = %job.firmware_version, "no firmware ELF for coredump");
        return Ok(Outcome::Done {
            verdict: Verdict::Failed(ParseErrorKind::FirmwareMissing),
            output: firmware_missing_message(job.model_code.as_str(), &job.firmware_version),
            analysis,
        });
    }
    drop(symbols);

    // 5. The sidecar's text when one is configured, else the built-in report.
    match (&ctx.sidecar, report) {
        (Some(sidecar), _) => {
            // The sidecar reads the ELF itself.
            let elf = match ctx.elves.get(
                &ctx.db,
                &ctx.layout,
                job.model_code.as_str(),
                &job.firmware_version,
            ) {
                Ok(Some(elf)) => elf,
                Ok(None) => {
                    return Ok(Outcome::Done {
                        verdict: Verdict::Failed(ParseErrorKind::FirmwareMissing),
                        output: firmware_missing_message(
                            job.model_code.as_str(),
                            &job.firmware_version,
                        ),
                        analysis,
                    });
                }
                Err(e) => return Ok(firmware_unreadable(e)),
            };
            with_sidecar(ctx, sidecar, &job, token, &dump, &elf.bytes, analysis)
        }
        (None, Ok(text)) => Ok(Outcome::Done {
            verdict: Verdict::Parsed,
            output: text,
            analysis,
        }),
        (None, Err(reason)) => Ok(Outcome::error(
            ParseErrorKind::DecodeFailed,
            reason,
            analysis,
        )),
    }
}

/// The `ERROR` of a dump whose firmware bundle cannot be read.
fn firmware_unreadable(e: impl std::fmt::Display) -> Outcome {
    Outcome::error(
        ParseErrorKind::FirmwareMissing,
        format!("cannot read firmware bundle: {e}"),
        None,
    )
}

/// The built-in decoder's view of a dump: the analysis (stored in both modes) and the text
/// report, or why there is none.
fn built_in(
    engine: &Engine,
    job: &parse_jobs::Job,
    dump: &[u8],
    symbols: &Symbols,
) -> (Option<Box<Analysis>>, Result<String, String>) {
    // A device's `chip` is free text: an unknown one is no reason to fail the decode.
    let chip = decode::parse_chip(&job.chip).unwrap_or_else(|e| {
        tracing::debug!(id = %job.id, "ignoring the device's chip: {e}");
        None
    });
    let symbolizer = match symbols {
        Symbols::Missing => None,
        Symbols::Ready(s) => Some(s.as_ref()),
        Symbols::Invalid(e) => return (None, Err(e.to_string())),
    };
    match engine.decode(dump, symbolizer, chip) {
        Ok(a) => {
            let report = a.report_text();
            (Some(Box::new(a)), Ok(report))
        }
        Err(e) => (None, Err(e.to_string())),
    }
}

fn with_sidecar(
    ctx: &Ctx,
    sidecar: &Sidecar,
    job: &parse_jobs::Job,
    token: &str,
    dump: &[u8],
    elf: &[u8],
    analysis: Option<Box<Analysis>>,
) -> Result<Outcome, db::DbError> {
    let id = job.id;
    let staged = match sidecar.stage(id, dump, elf) {
        Ok(s) => s,
        Err(e) => {
            let reason = format!(
                "cannot write to the transfer dir {}: {e}",
                sidecar.xfer_dir().display()
            );
            return Ok(Outcome::error(
                ParseErrorKind::SidecarFailed,
                reason,
                analysis,
            ));
        }
    };
    let parsed = sidecar.parse(id, &staged, &job.chip, |pause| {
        if !pause.is_zero() && ctx.stop.sleep(pause) {
            return Ok(Gate::Stopping);
        }
        if !parse_jobs::holds(&*ctx.db.conn()?, id, token)? {
            return Ok(Gate::Superseded);
        }
        Ok::<_, db::DbError>(Gate::Go)
    })?;
    drop(staged);
    Ok(match parsed {
        Parsed::Output(output) => Outcome::Done {
            verdict: Verdict::Parsed,
            output,
            analysis,
        },
        Parsed::Failed(reason) => Outcome::error(ParseErrorKind::SidecarFailed, reason, analysis),
        Parsed::Stopped(Gate::Stopping) => Outcome::Released,
        Parsed::Stopped(_) => Outcome::Gone,
    })
}
