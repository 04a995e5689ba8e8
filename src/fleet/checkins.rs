//! Device check-ins without a write storm: the OTA poll (`current_version`) and dump uploads
//! report "device D was seen running version V"; [`CheckIns::seen`] decides in memory whether
//! that is worth a database write and, if so, queues it; one background thread writes the
//! queued check-ins in one transaction per [`CheckIns::flush_every`] (default 1 s).
//!
//! The throttle ([`due`]): a device is written at most once per `interval` (default 60 s)
//! unless the version it reports changed. So 10,000 devices polling every few seconds cost about
//! 170 row writes per second, batched into one commit per second, and the poll itself never
//! waits on the database's write lock or an fsync. A crash loses at most the last second of
//! "last seen" times (the next poll writes them again).
//!
//! Memory: one entry per device that checked in (devices are authenticated, so bounded by the
//! fleet); the maps are cleared if they ever exceed [`MAX_TRACKED`] entries.

use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::db::checkins::{self, CheckIn};
use crate::db::{Db, format_ts};
use crate::ids::{DeviceId, ModelId};

/// Most devices tracked in memory before the throttle forgets everything (a bound, not a
/// limit a real fleet reaches).
pub const MAX_TRACKED: usize = 1_000_000;
/// Days of per-version day totals kept (the release chart shows 30).
pub const DAYS_KEPT: i64 = 60;

/// The last written check-in of a device.
#[derive(Debug, Clone)]
pub struct Last {
    /// When it was queued for writing.
    pub at: Instant,
    /// The version it reported then.
    pub version: Option<String>,
}

/// Whether a check-in reporting `version` at `now` must be written, given the device's last
/// written one: never written, a different version, or `interval` elapsed. A poll without a
/// version does not count as a change.
pub fn due(last: Option<&Last>, version: Option<&str>, now: Instant, interval: Duration) -> bool {
    match last {
        None => true,
        Some(l) => {
            (version.is_some() && l.version.as_deref() != version)
                || now.saturating_duration_since(l.at) >= interval
        }
    }
}

#[derive(Default)]
struct State {
    last: HashMap<DeviceId, Last>,
    pending: HashMap<DeviceId, CheckIn>,
    stop: bool,
}

struct Inner {
    interval: Duration,
    flush_every: Duration,
    state: Mutex<State>,
    wake: Condvar,
    /// Check-ins written (rows of `devices` updated).
    written: Counter,
    /// Write transactions committed.
    commits: Counter,
}

/// The check-in recorder (cheap to clone).
#[derive(Clone)]
pub struct CheckIns {
    inner: Arc<Inner>,
}

impl CheckIns {
    /// A recorder writing each device at most once per `interval` unless its version changed,
    /// flushing every `flush_every`, counting rows and commits in `written` and `commits` (the
    /// `/metrics` counters).
    pub fn new(
        interval: Duration,
        flush_every: Duration,
        written: Counter,
        commits: Counter,
    ) -> CheckIns {
        CheckIns {
            inner: Arc::new(Inner {
                interval,
                flush_every,
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
                written,
                commits,
            }),
        }
    }

    /// How often queued check-ins are written.
    pub fn flush_every(&self) -> Duration {
        self.inner.flush_every
    }

    /// Records that `device` (of `model`) was seen now, running `version` when it said so.
    /// Returns whether a write was queued.
    pub fn seen(&self, device: DeviceId, model: ModelId, version: Option<&str>) -> bool {
        let now = Instant::now();
        let mut st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        if !due(st.last.get(&device), version, now, self.inner.interval) {
            return false;
        }
        if st.last.len() >= MAX_TRACKED {
            st.last.clear();
        }
        let version = version.map(str::to_string);
        let kept_version = version
            .clone()
            .or_else(|| st.last.get(&device).and_then(|l| l.version.clone()));
        st.last.insert(
            device,
            Last {
                at: now,
                version: kept_version,
            },
        );
        if st.pending.len() >= MAX_TRACKED {
            st.pending.clear();
        }
        let at = chrono::Utc::now();
        st.pending
            .entry(device)
            .and_modify(|c| {
                c.at = at;
                if version.is_some() {
                    c.version = version.clone();
                }
            })
            .or_insert(CheckIn {
                device,
                model,
                version,
                at,
            });
        true
    }

    /// Check-ins written so far (device rows updated).
    pub fn written(&self) -> u64 {
        self.inner.written.get()
    }

    /// Write transactions committed so far.
    pub fn commits(&self) -> u64 {
        self.inner.commits.get()
    }

    /// Writes every queued check-in in one transaction; the number written. On failure the
    /// devices are forgotten by the throttle, so their next poll queues them again.
    pub fn flush(&self, db: &Db) -> usize {
        let batch: Vec<CheckIn> = {
            let mut st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            st.pending.drain().map(|(_, c)| c).collect()
        };
        if batch.is_empty() {
            return 0;
        }
        let result = db.write(|tx| {
            for c in &batch {
                checkins::record(tx, c)?;
            }
            Ok::<_, crate::db::DbError>(())
        });
        match result {
            Ok(()) => {
                self.inner.written.inc_by(batch.len() as u64);
                self.inner.commits.inc();
                batch.len()
            }
            Err(e) => {
                tracing::warn!(error = %e, count = batch.len(), "cannot record device check-ins");
                let mut st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
                for c in &batch {
                    st.last.remove(&c.device);
                }
                0
            }
        }
    }

    /// Starts the writer thread; it flushes every [`CheckIns::flush_every`] and once more
    /// when stopped, and prunes old presence days once an hour.
    /// `hourly` runs on the writer thread once at start and then every hour (database
    /// housekeeping such as pruning the audit log).
    pub fn start(&self, db: Db, hourly: impl Fn(&Db) + Send + 'static) -> std::io::Result<Writer> {
        let me = self.clone();
        let handle = std::thread::Builder::new()
            .name("checkins".into())
            .spawn(move || me.run(&db, hourly))?;
        Ok(Writer {
            checkins: self.clone(),
            handle: Some(handle),
        })
    }

    fn run(&self, db: &Db, hourly: impl Fn(&Db)) {
        let mut pruned: Option<Instant> = None;
        loop {
            let stop = {
                let st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
                let (st, _) = self
                    .inner
                    .wake
                    .wait_timeout_while(st, self.inner.flush_every, |s| !s.stop)
                    .unwrap_or_else(|e| e.into_inner());
                st.stop
            };
            self.flush(db);
            if pruned.is_none_or(|p| p.elapsed() >= Duration::from_secs(3600)) {
                pruned = Some(Instant::now());
                let before = format_ts(chrono::Utc::now() - chrono::Duration::days(DAYS_KEPT));
                let day = before.get(..10).unwrap_or("0000-00-00").to_string();
                if let Err(e) = db.write(|tx| checkins::prune_days(tx, &day)) {
                    tracing::warn!(error = %e, "cannot prune old release presence days");
                }
                hourly(db);
            }
            if stop {
                return;
            }
        }
    }
}

/// The running writer thread; [`Writer::stop`] flushes and joins it.
pub struct Writer {
    checkins: CheckIns,
    handle: Option<JoinHandle<()>>,
}

impl Writer {
    /// Stops the thread after a last flush.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        {
            let mut st = self
                .checkins
                .inner
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            st.stop = true;
        }
        self.checkins.inner.wake.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_writes_once_a_minute_unless_the_version_changes() {
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        assert!(due(None, None, t0, minute), "first sighting");
        let last = Last {
            at: t0,
            version: Some("1.0".into()),
        };
        let later = t0 + Duration::from_secs(10);
        assert!(!due(Some(&last), Some("1.0"), later, minute));
        assert!(
            !due(Some(&last), None, later, minute),
            "no version: no change"
        );
        assert!(due(Some(&last), Some("1.1"), later, minute), "new version");
        assert!(due(Some(&last), Some("1.0"), t0 + minute, minute));
    }

    #[test]
    fn seen_queues_only_due_check_ins() {
        let c = CheckIns::new(
            Duration::from_secs(60),
            Duration::from_secs(1),
            Counter::default(),
            Counter::default(),
        );
        let (d, m) = (DeviceId(1), ModelId(1));
        assert!(c.seen(d, m, Some("1.0")));
        assert!(!c.seen(d, m, Some("1.0")));
        assert!(!c.seen(d, m, None));
        assert!(c.seen(d, m, Some("1.1")));
        let st = c.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(st.pending.len(), 1, "one pending row per device");
        assert_eq!(
            st.pending.get(&d).and_then(|p| p.version.clone()),
            Some("1.1".into())
        );
    }
}
