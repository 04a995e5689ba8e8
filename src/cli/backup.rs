//! `crashbox backup DEST [--verify]`: a consistent online copy of the database, the dump and
//! firmware folders and a manifest, into the folder DEST (see `backup`); with `--verify`, the
//! written backup is then checked as `crashbox restore` would.

use std::path::PathBuf;

use clap::Args;

use super::open_db;
use crate::backup;
use crate::config::Config;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Folder to write `crashbox.db`, `blobs.tar` and `manifest.json` into (created if needed).
    pub dest: PathBuf,
    /// Check the written backup: database integrity, every file present with its size.
    #[arg(long)]
    pub verify: bool,
}

pub fn run(config: &Config, args: BackupArgs) -> anyhow::Result<()> {
    let db = open_db(config)?;
    let w = backup::write::write(config, &db, &args.dest)?;
    println!(
        "backup written to {} ({}, {} with {} files, {} bytes, {})",
        args.dest.display(),
        backup::DB_FILE,
        backup::TAR_FILE,
        w.files,
        w.bytes,
        backup::MANIFEST_FILE
    );
    if args.verify {
        let v = backup::verify::verify(&args.dest)?;
        println!(
            "verified: database intact, {} files present with their sizes",
            v.files
        );
        if v.rows_without_file > 0 {
            println!(
                "note: {} rows have no file in the backup (removed by retention while it ran); a restored server drops them at start",
                v.rows_without_file
            );
        }
    }
    Ok(())
}
