//! `crashbox serve`: run the appliance until SIGINT/SIGTERM.

use crate::app::App;
use crate::config::{Config, ServeArgs};

pub fn run(config: Config, args: ServeArgs) -> anyhow::Result<()> {
    let addr = args.bind_addr()?;
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
        let listener = tokio::net::TcpListener::bind(addr).await?;
        app.serve(listener, shutdown_signal()).await
    })?;
    app.shutdown();
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
