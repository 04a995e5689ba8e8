//! `crashbox sidecar --xfer-dir DIR [--bind ADDR]`: serve the parse-sidecar protocol with the
//! built-in decoder (see `sidecar::server`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use crate::decode::Engine;
use crate::sidecar::server::{SidecarState, router};

#[derive(Debug, Args)]
pub struct SidecarArgs {
    /// The transfer folder shared with the backend.
    #[arg(long, env = "PARSE_SIDECAR_XFER_DIR")]
    pub xfer_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub bind: String,
}

pub fn run(config: &Config, args: SidecarArgs) -> anyhow::Result<()> {
    let addr: std::net::SocketAddr = args
        .bind
        .parse()
        .with_context(|| format!("invalid value {:?} for --bind", args.bind))?;
    std::fs::create_dir_all(&args.xfer_dir)
        .with_context(|| format!("cannot create {}", args.xfer_dir.display()))?;
    let engine = Engine::with_rom_dir(config.rom_elf_dir.as_deref())?;
    let state = SidecarState::new(args.xfer_dir, engine);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!("listening on {}", listener.local_addr()?);
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })?;
    Ok(())
}
