//! Dashboard users: the first-run admin and password changes.

use std::path::Path;

use serde_json::json;

use crate::audit::{self, Actor};
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
pub fn set_password(
    db: &Db,
    data_dir: &Path,
    username: &str,
    password: &str,
    actor: &Actor,
) -> Result<()> {
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
    db.write(|tx| {
        let created = !users::set_password(tx, username, &hash)?;
        if created {
            users::insert(tx, username, &hash, false)?;
        }
        audit::record(
            tx,
            actor,
            "user.password",
            &format!("user:{username}"),
            json!({"created": created}),
        )?;
        // Whoever knew the old password is signed out everywhere.
        crate::db::sessions::delete_for_username(tx, username)?;
        Ok::<_, Error>(())
    })?;
    crate::store::remove_quietly(&data_dir.join(INITIAL_PASSWORD_FILE));
    Ok(())
}

/// Checks a login; `None` for an unknown user or a wrong password. An unknown user costs the
/// same argon2 verification as a known one, so timing does not tell which names exist.
pub fn verify_login(db: &Db, username: &str, password: &str) -> Result<Option<users::User>> {
    let user = users::find_by_name(&*db.conn()?, username)?;
    match user {
        Some(u) => Ok(passwords::verify(password, &u.password_hash).then_some(u)),
        None => {
            passwords::verify(password, passwords::decoy_hash());
            Ok(None)
        }
    }
}

/// When the user's password last changed (`None` for an unknown user): sign-in locks that
/// began before it no longer hold.
pub fn password_changed_at(
    db: &Db,
    username: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    let Some(user) = users::find_by_name(&*db.conn()?, username.trim())? else {
        return Ok(None);
    };
    Ok(chrono::DateTime::parse_from_rfc3339(&user.updated_at)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc)))
}
