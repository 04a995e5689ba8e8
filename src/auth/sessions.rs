//! Dashboard sessions: a login mints a random cookie value (stored only as its SHA-256) and a
//! per-session CSRF token; sessions expire after [`SESSION_TTL`] and are removed at logout.
//! The web layer decides how the cookie is sent; this module only knows rows and secrets.

use std::time::Duration;

use super::tokens;
use crate::db::{Db, format_ts, sessions};
use crate::error::{Error, Result};
use crate::fleet;

/// How long a login lasts (absolute, not sliding).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// A session just created: the cookie value (shown to the browser once) and its user.
#[derive(Debug)]
pub struct NewSession {
    /// The session cookie's value (`cbs_…`); only its SHA-256 is stored.
    pub cookie: String,
    /// Whether the user must change the password before anything else (first-run admin).
    pub must_change_password: bool,
}

/// Checks a username and password and, when they match, opens a session. `None` for a wrong
/// user name or password (the caller does not learn which).
pub fn login(db: &Db, username: &str, password: &str) -> Result<Option<NewSession>> {
    let Some(user) = fleet::users::verify_login(db, username.trim(), password)? else {
        return Ok(None);
    };
    open(db, &user).map(Some)
}

/// Opens a new session for `user`.
fn open(db: &Db, user: &crate::db::users::User) -> Result<NewSession> {
    let cookie = tokens::mint("cbs_");
    let csrf = tokens::random_hex(32);
    let ttl = chrono::Duration::from_std(SESSION_TTL)
        .map_err(|e| Error::Internal(format!("session lifetime: {e}")))?;
    let expires = format_ts(chrono::Utc::now() + ttl);
    db.write(|tx| {
        sessions::delete_expired(tx)?;
        sessions::insert(tx, &tokens::hash(&cookie), user.id, &csrf, &expires)
    })?;
    Ok(NewSession {
        cookie,
        must_change_password: user.must_change_password,
    })
}

/// Ends the session with this cookie value (no error when it is already gone).
pub fn logout(db: &Db, cookie: &str) -> Result<()> {
    db.write(|tx| sessions::delete(tx, &tokens::hash(cookie)))?;
    Ok(())
}

/// Changes the logged-in user's password after checking the current one. Every session of the
/// user ends (other browsers are signed out); the returned new session replaces the caller's.
pub fn change_password(
    db: &Db,
    data_dir: &std::path::Path,
    username: &str,
    current: &str,
    new: &str,
    confirm: &str,
) -> Result<NewSession> {
    if fleet::users::verify_login(db, username, current)?.is_none() {
        return Err(Error::Validation("The current password is wrong".into()));
    }
    if new != confirm {
        return Err(Error::Validation("The new passwords do not match".into()));
    }
    if new == current {
        return Err(Error::Validation(
            "The new password must differ from the current one".into(),
        ));
    }
    let actor = crate::audit::Actor::User(username.to_string());
    fleet::users::set_password(db, data_dir, username, new, &actor)?;
    let user = crate::db::users::find_by_name(&*db.conn()?, username)?
        .ok_or_else(|| Error::not_found("User", username))?;
    open(db, &user)
}
