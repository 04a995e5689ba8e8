//! `crashbox serve`: run the appliance until SIGINT/SIGTERM.

use crate::app::App;
use crate::config::{Config, ServeArgs};
use crate::web::server;

pub fn run(mut config: Config, args: ServeArgs) -> anyhow::Result<()> {
    let addr = args.bind_addr()?;
    config.http = args.limits()?;
    config.trusted_proxies =
        crate::config::AddrList::parse("CRASHBOX_TRUSTED_PROXIES", &args.trusted_proxies)?;
    config.metrics_access = args.metrics_access()?;
    let nofile = server::raise_nofile_limit();
    let cap = server::connection_cap(config.http.max_connections, nofile);
    if cap < config.http.max_connections {
        tracing::warn!(
            configured = config.http.max_connections,
            cap,
            nofile,
            "the open-file limit cannot carry CRASHBOX_MAX_CONNECTIONS: lowered"
        );
        config.http.max_connections = cap;
    }
    tracing::info!(
        nofile,
        max_connections = config.http.max_connections,
        "open-file limit"
    );
    let app = App::open(config)?;
    if let Some(pw) = &app.initial_password {
        let file = app
            .state
            .config
            .data_dir
            .join(crate::fleet::users::INITIAL_PASSWORD_FILE);
        println!("created user 'admin' with password: {pw}");
        println!(
            "(also written to {}; change it on first login or with `crashbox user passwd admin`)",
            file.display()
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr()?;
        // The signal handlers are in place before anyone is told we are ready: a SIGTERM
        // right after READY=1 must shut down gracefully, not kill the process.
        let shutdown = shutdown_signal()?;
        crate::systemd::ready(&format!("listening on {bound}"));
        if let Some(every) = crate::systemd::watchdog_interval() {
            tokio::spawn(watchdog(app.state.db.clone(), every));
        }
        app.serve(listener, shutdown).await?;
        Ok::<(), anyhow::Error>(())
    })?;
    app.shutdown();
    tracing::info!("stopped");
    Ok(())
}

/// Registers SIGINT and SIGTERM now and returns the future that completes at the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        crate::systemd::stopping();
        tracing::info!("shutting down: finishing in-flight requests");
    })
}

/// Pings systemd's watchdog while the database answers a query within the interval.
async fn watchdog(db: crate::db::Db, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let alive = db.call(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?));
        match tokio::time::timeout(every, alive).await {
            Ok(Ok(())) => crate::systemd::watchdog_ping(),
            Ok(Err(e)) => tracing::warn!(error = %e, "watchdog: the database does not answer"),
            Err(_) => tracing::warn!("watchdog: the database did not answer in time"),
        }
    }
}
