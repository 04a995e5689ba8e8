//! Owner-only permissions for what holds secrets (password hashes, token hashes, dumps): the
//! data folder is `0700` and the database with its `-wal` and `-shm` files `0600`, whatever the
//! umask. On other platforms these are no-ops.

use std::io;
use std::path::Path;

/// Creates `dir` (and its parents) and makes it `0700`. An existing folder that others can
/// read is tightened; if that fails (someone else owns it) a warning is logged.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0
            && let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot make the data folder private (0700)");
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Makes `file` `0600`, creating it empty first when it does not exist (so that SQLite, which
/// gives its `-wal` and `-shm` files the database's mode, never creates them readable).
pub fn restrict_file(file: &Path, create: bool) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if create && !file.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(file)?;
        }
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = (file, create);
        Ok(())
    }
}
