//! Shared application state handed to every handler.

use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::store::Layout;
use crate::worker::Jobs;

/// State shared by every handler; cheap to clone (everything inside is a handle or an `Arc`).
#[derive(Clone)]
pub struct AppState {
    /// The database handle.
    pub db: Db,
    /// The resolved configuration.
    pub config: Arc<Config>,
    /// Where dumps and firmware live on disk.
    pub layout: Arc<Layout>,
    /// Files retention evicted, kept to write the next uploads into.
    pub spares: Arc<crate::store::spares::Spares>,
    /// The queue of parse jobs, handed to the worker threads.
    pub jobs: Jobs,
    /// Counters and histograms served at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Wakes the notification sender (test events).
    pub notify: crate::notify::Wake,
    /// Device check-ins (last seen, running version), throttled and batched.
    pub checkins: crate::fleet::checkins::CheckIns,
    /// Firmware uploads processed at once (`Config.http.max_firmware_uploads`): a bundle is
    /// held in memory and unpacked, so more at a time would only grow the peak.
    pub firmware_slots: Arc<tokio::sync::Semaphore>,
    /// When each API token's use was last written (`last_used_at`, at most once a minute).
    pub token_use: Arc<crate::auth::token_use::TokenUse>,
}

impl AppState {
    /// A firmware upload slot, held while the upload is read and processed; `Unavailable`
    /// (503 + `Retry-After`) when every slot is taken.
    pub fn firmware_upload_slot(&self) -> crate::error::Result<tokio::sync::OwnedSemaphorePermit> {
        self.firmware_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                crate::error::Error::Unavailable(
                    "Too many firmware uploads in progress; retry later".into(),
                )
            })
    }

    /// Runs blocking service code (SQL, file I/O) on tokio's blocking pool.
    pub async fn blocking<F, R>(&self, f: F) -> crate::error::Result<R>
    where
        F: FnOnce(&AppState) -> crate::error::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let st = self.clone();
        tokio::task::spawn_blocking(move || f(&st))
            .await
            .map_err(|e| crate::error::Error::Internal(format!("blocking task failed: {e}")))?
    }
}
