//! Assembling a running appliance from a [`Config`]: open the database, first-run admin,
//! reconcile storage, start the parse workers, build the router. Used by `crashbox serve` and by
//! the integration tests, so both run the same start-up.

use std::sync::Arc;

use crate::config::Config;
use crate::coredump::reconcile;
use crate::db::Db;
use crate::error::Result;
use crate::fleet;
use crate::metrics::Metrics;
use crate::store::Layout;
use crate::web::AppState;
use crate::worker::{self, Pool};

/// A started appliance: shared state, the parse workers, and the first-run admin password.
pub struct App {
    /// The state every HTTP handler gets (database, config, storage layout, job queue, metrics).
    pub state: AppState,
    /// The first-run admin password, when this start created the admin user.
    pub initial_password: Option<String>,
    /// The parse workers (decode pipeline); taken when stopping.
    workers: Option<Pool>,
    /// The check-in writer thread; taken when stopping (it flushes once more).
    checkin_writer: Option<crate::fleet::checkins::Writer>,
}

impl App {
    /// Opens everything the server needs. Blocking.
    pub fn open(config: Config) -> Result<App> {
        crate::store::private::create_dir(&config.data_dir)?;
        let layout = Layout::new(config.coredumps_dir.clone(), config.assets_dir.clone());
        layout.create_dirs()?;
        let db = Db::open_with(&config.db_path, config.db_busy_timeout)?;
        let initial_password = fleet::users::ensure_admin(&db, &config.data_dir)?;
        // Stored files against rows. Housekeeping: a failure is logged, the server starts.
        if let Err(e) = reconcile::run(&db, &layout) {
            tracing::error!(error = %e, "cannot reconcile coredump files and rows");
        }
        if let Err(e) = crate::firmware::reconcile::run(&db, &layout) {
            tracing::error!(error = %e, "cannot reconcile firmware files and rows");
        }
        // Symbolization indexes of stored bundles that lack a usable one, in the background.
        crate::firmware::index::spawn_builder(db.clone(), layout.clone());
        let metrics = Arc::new(Metrics::new());
        // Decode pipeline: start the parse workers and queue the PENDING backlog.
        // ... and the notification sender.
        let notify = crate::notify::Wake::default();
        let (jobs, workers) = worker::pool::start(&db, &layout, &config, &metrics, &notify)?;
        let checkins = crate::fleet::checkins::CheckIns::new(
            config.checkin_interval,
            config.checkin_flush,
            metrics.checkin_writes.clone(),
            metrics.checkin_commits.clone(),
        );
        let audit_days = config.audit_retention_days;
        let checkin_writer = checkins.start(db.clone(), move |db| {
            match crate::audit::prune(db, audit_days) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    pruned = n,
                    days = audit_days,
                    "pruned old audit log entries"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot prune the audit log"),
            }
        })?;
        let firmware_slots = Arc::new(tokio::sync::Semaphore::new(
            config.http.max_firmware_uploads.max(1),
        ));
        let state = AppState {
            checkins,
            firmware_slots,
            token_use: Default::default(),
            db,
            config: Arc::new(config),
            layout: Arc::new(layout),
            spares: Default::default(),
            jobs,
            metrics,
            notify,
        };
        Ok(App {
            state,
            initial_password,
            workers: Some(workers),
            checkin_writer: Some(checkin_writer),
        })
    }

    /// The HTTP router (API, dashboard, static assets) over this app's state.
    pub fn router(&self) -> axum::Router {
        crate::web::router(self.state.clone())
    }

    /// Serves HTTP on `listener` until `shutdown` resolves, finishing in-flight requests (within
    /// `Config.http.shutdown_timeout`; see `web::server`).
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        tracing::info!("listening on {addr}");
        crate::web::server::serve(listener, self.router(), &self.state.config.http, shutdown).await
    }

    /// Stops background work (workers finish their current job).
    pub fn shutdown(mut self) {
        if let Some(pool) = self.workers.take() {
            pool.shutdown();
        }
        if let Some(w) = self.checkin_writer.take() {
            w.stop();
        }
    }
}

impl Drop for App {
    /// An app dropped without [`App::shutdown`] (a failing test) still stops its workers.
    fn drop(&mut self) {
        if let Some(pool) = self.workers.take() {
            pool.shutdown();
        }
        if let Some(w) = self.checkin_writer.take() {
            w.stop();
        }
    }
}
