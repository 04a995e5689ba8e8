//! `crashbox backup DEST`: a consistent online copy of the database (SQLite backup API) and a
//! tar of the dump and firmware folders, into the folder DEST.

use std::path::PathBuf;
use std::process::Command;

use clap::Args;

use super::open_db;
use crate::config::Config;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Folder to write `crashbox.db` and `blobs.tar` into (created if needed).
    pub dest: PathBuf,
}

pub fn run(config: &Config, args: BackupArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dest)?;
    let db = open_db(config)?;
    let db_dest = args.dest.join("crashbox.db");
    {
        let conn = db.conn()?;
        let mut out = rusqlite::Connection::open(&db_dest)?;
        let backup = rusqlite::backup::Backup::new(&conn, &mut out)?;
        backup.run_to_completion(256, std::time::Duration::from_millis(5), None)?;
    }
    let tar_dest = args.dest.join("blobs.tar");
    let mut cmd = Command::new("tar");
    cmd.arg("-cf").arg(&tar_dest);
    for dir in [&config.coredumps_dir, &config.assets_dir] {
        if let (Some(parent), Some(name)) = (dir.parent(), dir.file_name())
            && dir.exists()
        {
            let parent = if parent.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                parent
            };
            cmd.arg("-C").arg(parent).arg(name);
        }
    }
    let status = cmd.status()?;
    anyhow::ensure!(status.success(), "tar failed with {status}");
    println!(
        "backup written to {} (crashbox.db, blobs.tar)",
        args.dest.display()
    );
    Ok(())
}
