//! `crashbox restore SRC`: puts a backup made by `crashbox backup` into the (empty) data folder,
//! after verifying it. Refuses to overwrite an existing database or non-empty dump or firmware
//! folder. Run it with the server stopped.

use std::path::PathBuf;

use clap::Args;

use crate::backup;
use crate::config::Config;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup folder (with `crashbox.db`, `blobs.tar` and `manifest.json`).
    pub src: PathBuf,
}

pub fn run(config: &Config, args: RestoreArgs) -> anyhow::Result<()> {
    let r = backup::restore::restore(config, &args.src)?;
    println!(
        "restored {} into {} ({} files)",
        args.src.display(),
        config.data_dir.display(),
        r.files
    );
    Ok(())
}
