//! The sender thread: claims due deliveries, sends them one after another (each attempt bounded
//! by the configured timeout), and records the outcome; woken by [`super::Wake`] and every
//! [`SWEEP_INTERVAL`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rand::RngExt;

use super::{Wake, channels, payload};
use crate::config::Config;
use crate::db::notify::{self as store, Attempt, Claimed};
use crate::db::{Db, DbError, format_ts};
use crate::metrics::Metrics;

/// Longest sleep between two looks at the outbox.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
/// Deliveries claimed per round.
const BATCH: i64 = 16;

/// The running sender; stop it with [`Sender::shutdown`].
pub struct Sender {
    stop: Arc<AtomicBool>,
    wake: Wake,
    thread: Option<JoinHandle<()>>,
}

struct Ctx {
    db: Db,
    metrics: Arc<Metrics>,
    public_url: Option<String>,
    retry: Vec<Duration>,
    timeout: Duration,
    stop: Arc<AtomicBool>,
}

impl Ctx {
    /// A claim older than this is stale (its sender died): a whole batch of timed-out attempts.
    fn lease(&self) -> Duration {
        self.timeout * (BATCH as u32 + 1)
    }
}

/// Drops claims left by a previous process and starts the sender thread.
pub fn start(
    db: &Db,
    config: &Config,
    metrics: &Arc<Metrics>,
    wake: Wake,
) -> std::io::Result<Sender> {
    match db.write(store::reset_claims) {
        Ok(n) if n > 0 => tracing::info!(
            deliveries = n,
            "dropped notification claims left by a previous process"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot reset notification claims"),
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ctx = Ctx {
        db: db.clone(),
        metrics: metrics.clone(),
        public_url: config.public_url.clone(),
        retry: config.notify_retry.clone(),
        timeout: config.notify_timeout,
        stop: stop.clone(),
    };
    let w = wake.clone();
    let thread = std::thread::Builder::new()
        .name("notify-sender".into())
        .spawn(move || run(&ctx, &w))?;
    Ok(Sender {
        stop,
        wake,
        thread: Some(thread),
    })
}

impl Sender {
    /// Stops the thread after its current attempt; undelivered events stay in the outbox.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn run(ctx: &Ctx, wake: &Wake) {
    while !ctx.stop.load(Ordering::SeqCst) {
        match round(ctx) {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "notification round failed"),
        }
        wake.wait(until_next(ctx));
    }
}

/// Time until the earliest pending delivery is due, at most [`SWEEP_INTERVAL`].
fn until_next(ctx: &Ctx) -> Duration {
    let next = ctx
        .db
        .conn()
        .ok()
        .and_then(|c| store::next_due(&c).ok().flatten());
    let Some(next) = next.and_then(|n| chrono::DateTime::parse_from_rfc3339(&n).ok()) else {
        return SWEEP_INTERVAL;
    };
    let wait = next.with_timezone(&chrono::Utc) - chrono::Utc::now();
    wait.to_std()
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_millis(5))
        .min(SWEEP_INTERVAL)
}

/// Claims and sends one batch; how many were claimed.
fn round(ctx: &Ctx) -> Result<usize, DbError> {
    let token = format!("{:032x}", rand::rng().random::<u128>());
    let stale =
        format_ts(chrono::Utc::now() - chrono::Duration::from_std(ctx.lease()).unwrap_or_default());
    let batch = ctx
        .db
        .write(|tx| store::claim_due(tx, &token, &stale, BATCH))?;
    let n = batch.len();
    // Channels that failed in this round, with the time their retry is due: their other
    // deliveries wait for it instead of costing another timeout each.
    let mut failing: HashMap<i64, String> = HashMap::new();
    for d in batch {
        if ctx.stop.load(Ordering::SeqCst) {
            // Left claimed; the next start drops the claim and sends it.
            break;
        }
        if let Some(at) = failing.get(&d.channel.id) {
            ctx.db.write(|tx| store::defer(tx, d.id, &token, at))?;
            continue;
        }
        let channel = d.channel.id;
        if let Some(at) = deliver(ctx, &token, d)? {
            failing.insert(channel, at);
        }
    }
    Ok(n)
}

/// Sends one delivery and records the attempt; when it failed, the time the channel is tried
/// again.
fn deliver(ctx: &Ctx, token: &str, d: Claimed) -> Result<Option<String>, DbError> {
    let secret = store::secret(&*ctx.db.conn()?, d.channel.id)?;
    let body = payload::with_links(&d.payload, ctx.public_url.as_deref());
    let result = channels::send(
        &d.channel.settings,
        secret.as_deref(),
        &d.event_id,
        &body,
        ctx.timeout,
    );
    let attempt_no = d.attempts + 1;
    let (attempt, outcome) = match &result {
        Ok(()) => (Attempt::Sent, "sent"),
        Err(e) => match ctx.retry.get(d.attempts as usize) {
            Some(delay) => {
                let at = format_ts(
                    chrono::Utc::now() + chrono::Duration::from_std(*delay).unwrap_or_default(),
                );
                (Attempt::Retry(e, at), "retry")
            }
            None => (Attempt::Failed(e), "failed"),
        },
    };
    match &result {
        Ok(()) => {
            tracing::info!(delivery = d.id, channel = d.channel.id, kind = %d.channel.settings.kind,
            event = %d.event_type, attempt = attempt_no, "notification sent")
        }
        Err(e) => {
            tracing::warn!(delivery = d.id, channel = d.channel.id, kind = %d.channel.settings.kind,
            event = %d.event_type, attempt = attempt_no, outcome, error = %e, "notification not delivered")
        }
    }
    ctx.metrics
        .notify_deliveries
        .get_or_create(&crate::metrics::NotifyLabels {
            kind: d.channel.settings.kind.clone(),
            outcome: outcome.to_string(),
        })
        .inc();
    ctx.db
        .write(|tx| store::record_attempt(tx, d.id, d.channel.id, token, &attempt))?;
    Ok(match attempt {
        Attempt::Sent => None,
        Attempt::Retry(_, at) => Some(at),
        Attempt::Failed(_) => Some(format_ts(
            chrono::Utc::now()
                + chrono::Duration::from_std(ctx.retry.first().copied().unwrap_or_default())
                    .unwrap_or_default(),
        )),
    })
}
