//! The parse workers: `config.workers` plain `std::thread`s that take dump ids off one channel,
//! plus a sweeper thread. Never on the async runtime.
//!
//! Durability: the database is the queue. At start every claim left by a previous process is
//! dropped and every `PENDING` dump is queued; afterwards the sweeper queues, every
//! [`SWEEP_INTERVAL`], each `PENDING` dump that is neither queued nor held by a live claim — the
//! ones re-queued by the CLI while `serve` runs, and the ones whose worker died (claim older than
//! the lease). The request path queues a dump only after its row is committed.
//!
//! Stopping: [`Pool::shutdown`] raises the stop flag, wakes idle workers and joins them; a busy
//! worker finishes its current sidecar request and gives the job back if it would retry. Queued
//! jobs stay `PENDING` for the next start.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use super::elf_cache::ElfCache;
use super::job::{self, Ctx};
use super::{Jobs, Msg};
use crate::config::Config;
use crate::db::{Db, parse_jobs};
use crate::decode::Engine;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::sidecar::Sidecar;
use crate::store::Layout;

/// How often the sweeper looks for `PENDING` dumps nobody works on.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
/// Time the built-in decoder may take, on top of the sidecar's time, before a claim is stale.
const DECODE_ALLOWANCE: Duration = Duration::from_secs(120);

/// A stop flag that sleepers can wait on.
#[derive(Default)]
pub struct Stop {
    flag: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Stop {
    /// Whether a stop was requested.
    pub fn stopping(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps for `d` or until stopped; `true` when stopping.
    pub fn sleep(&self, d: Duration) -> bool {
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .cv
            .wait_timeout_while(guard, d, |_| !self.stopping())
            .unwrap_or_else(|e| e.into_inner());
        self.stopping()
    }

    fn trigger(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.flag.store(true, Ordering::SeqCst);
        self.cv.notify_all();
    }
}

/// Running workers; stop them with [`Pool::shutdown`].
pub struct Pool {
    ctx: Arc<Ctx>,
    workers: Vec<JoinHandle<()>>,
    sweeper: Option<JoinHandle<()>>,
    notifier: Option<crate::notify::sender::Sender>,
}

/// Starts the workers for `config` and queues the backlog, and the notification sender (woken
/// through `notify`).
pub fn start(
    db: &Db,
    layout: &Layout,
    config: &Config,
    metrics: &Arc<Metrics>,
    notify: &crate::notify::Wake,
) -> Result<(Jobs, Pool)> {
    let engine = Engine::with_rom_dir(config.rom_elf_dir.as_deref()).unwrap_or_else(|e| {
        // The server stays up: dumps still decode, only ROM frames stay unnamed.
        tracing::warn!(error = %e, "cannot read the ROM ELF dir; ROM frames stay unnamed");
        Engine::new()
    });
    let sidecar = config
        .sidecar
        .as_ref()
        .map(|c| Sidecar::new(c, metrics.clone()));
    let lease = sidecar
        .as_ref()
        .map(Sidecar::max_duration)
        .unwrap_or_default()
        + DECODE_ALLOWANCE;
    if let Some(s) = &sidecar {
        let n = s.sweep_stale_files(lease);
        if n > 0 {
            tracing::info!(
                removed = n,
                "removed stale transfer files from {}",
                s.xfer_dir().display()
            );
        }
    }
    let reset = db.write(parse_jobs::reset_claims)?;
    if reset > 0 {
        tracing::info!(
            jobs = reset,
            "dropped parse claims left by a previous process"
        );
    }

    let (jobs, rx) = Jobs::channel();
    let ctx = Arc::new(Ctx {
        db: db.clone(),
        layout: layout.clone(),
        sidecar,
        engine,
        elves: ElfCache::default(),
        metrics: metrics.clone(),
        jobs: jobs.clone(),
        stop: Arc::new(Stop::default()),
        lease,
        notify: notify.clone(),
    });
    let rx = Arc::new(Mutex::new(rx));
    let mut workers = Vec::with_capacity(config.workers);
    for i in 0..config.workers {
        let (ctx, rx) = (ctx.clone(), rx.clone());
        workers.push(
            std::thread::Builder::new()
                .name(format!("parse-worker-{i}"))
                .spawn(move || work(&ctx, &rx))?,
        );
    }
    let queued = sweep(&ctx)?;
    tracing::info!(
        workers = config.workers,
        sidecar = ctx.sidecar.as_ref().map(|s| s.url()).unwrap_or("-"),
        backlog = queued,
        "parse workers started"
    );
    let sweeper = {
        let ctx = ctx.clone();
        std::thread::Builder::new()
            .name("parse-sweeper".into())
            .spawn(move || {
                let mut rounds: u32 = 0;
                while !ctx.stop.sleep(SWEEP_INTERVAL) {
                    if let Err(e) = sweep(&ctx) {
                        tracing::warn!(error = %e, "parse sweep failed");
                    }
                    // Now and then, transfer files of runs killed without cleaning up (older
                    // than the lease, so no live run still uses them).
                    rounds = rounds.wrapping_add(1);
                    if rounds.is_multiple_of(12)
                        && let Some(s) = &ctx.sidecar
                    {
                        s.sweep_stale_files(ctx.lease);
                    }
                }
            })?
    };
    let notifier = crate::notify::sender::start(db, config, metrics, notify.clone())?;
    Ok((
        jobs,
        Pool {
            ctx,
            workers,
            sweeper: Some(sweeper),
            notifier: Some(notifier),
        },
    ))
}

/// Queues every `PENDING` dump that is not queued and not held by a live claim.
fn sweep(ctx: &Ctx) -> Result<usize> {
    let ids = parse_jobs::claimable_ids(&*ctx.db.conn()?, &job::claim_cutoff(ctx))?;
    let mut n = 0;
    for id in ids {
        if !ctx.jobs.is_queued(id) {
            ctx.jobs.enqueue(id);
            n += 1;
        }
    }
    if n > 0 {
        tracing::debug!(queued = n, "parse sweep queued coredumps");
    }
    Ok(n)
}

fn work(ctx: &Ctx, rx: &Mutex<mpsc::Receiver<Msg>>) {
    loop {
        let msg = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        match msg {
            Ok(Msg::Job(id)) => {
                ctx.jobs.taken(id);
                if ctx.stop.stopping() {
                    break;
                }
                let ran = job::run(ctx, id);
                tracing::debug!(id = %id, ?ran, "parse job done");
            }
            Ok(Msg::Wake) if ctx.stop.stopping() => break,
            Ok(Msg::Wake) => {}
            Err(_) => break,
        }
    }
}

impl Pool {
    /// Stops the workers: each finishes (or gives back) its current job; queued jobs stay
    /// `PENDING`. Blocks until they have stopped.
    pub fn shutdown(mut self) {
        self.ctx.stop.trigger();
        self.ctx.jobs.wake(self.workers.len());
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(s) = self.sweeper.take() {
            let _ = s.join();
        }
        if let Some(n) = self.notifier.take() {
            n.shutdown();
        }
        tracing::info!("parse workers stopped");
    }
}
