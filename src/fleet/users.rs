//! Dashboard users: the first-run admin and password changes.

use std::path::Path;

use crate::auth::passwords;
use crate::db::{Db, users};
use crate::error::{Error, Result};

/// Name of the file holding the first-run admin password.
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

/// Creates `admin` with a random password when there is no user at all. Returns the password
/// (to print once); it is also written to `<data dir>/initial-admin-password` (mode 0600).
pub fn ensure_admin(db: &Db, data_dir: &Path) -> Result<Option<String>> {
    let conn = db.conn()?;
    if users::count(&conn)? > 0 {
        return Ok(None);
    }
    let password = passwords::generate();
    let hash = passwords::hash(&password).map_err(Error::Internal)?;
    users::insert(&conn, "admin", &hash, true)?;
    write_secret(
        &data_dir.join(INITIAL_PASSWORD_FILE),
        &format!("{password}\n"),
    )?;
    Ok(Some(password))
}

fn write_secret(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

/// Sets a user's password (creating the user if absent) and removes the first-run password file.
pub fn set_password(db: &Db, data_dir: &Path, username: &str, password: &str) -> Result<()> {
    if password.chars().count() < 8 {
        return Err(Error::Validation(
            "Password must be at least 8 characters".into(),
        ));
    }
    let username = username.trim();
    if username.is_empty() || username.len() > 64 {
        return Err(Error::Validation(
            "User name must be 1 to 64 characters".into(),
        ));
    }
    let hash = passwords::hash(password).map_err(Error::Internal)?;
    let conn = db.conn()?;
    if !users::set_password(&conn, username, &hash)? {
        users::insert(&conn, username, &hash, false)?;
    }
    crate::store::remove_quietly(&data_dir.join(INITIAL_PASSWORD_FILE));
    Ok(())
}

/// Checks a login; `None` for an unknown user or a wrong password.
pub fn verify_login(db: &Db, username: &str, password: &str) -> Result<Option<users::User>> {
    let user = users::find_by_name(&*db.conn()?, username)?;
    Ok(user.filter(|u| passwords::verify(password, &u.password_hash)))
}
