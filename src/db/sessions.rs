//! `sessions`: dashboard login sessions, stored by the SHA-256 of the cookie value.

use rusqlite::{Connection, OptionalExtension, params};

use super::{DbError, now};
use crate::ids::UserId;

/// A valid dashboard session with its user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The signed-in user's row id.
    pub user_id: UserId,
    /// The signed-in user's login name.
    pub username: String,
    /// Whether the user must set a new password before using the dashboard.
    pub must_change_password: bool,
    /// The session's CSRF token, which forms and `X-CSRF-Token` headers must carry.
    pub csrf_token: String,
    /// When the session expires, in the database's RFC 3339 form.
    pub expires_at: String,
}

/// Stores a new session by the hash of its cookie value.
pub fn insert(
    conn: &Connection,
    hash: &[u8],
    user: UserId,
    csrf: &str,
    expires_at: &str,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash, user.0, csrf, now(), expires_at],
    )?;
    Ok(())
}

/// The unexpired session with this hash.
pub fn find_valid(conn: &Connection, hash: &[u8]) -> Result<Option<Session>, DbError> {
    Ok(conn
        .query_row(
            "SELECT s.user_id, u.username, u.must_change_password, s.csrf_token, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2",
            params![hash, now()],
            |r| {
                Ok(Session {
                    user_id: UserId(r.get(0)?),
                    username: r.get(1)?,
                    must_change_password: r.get(2)?,
                    csrf_token: r.get(3)?,
                    expires_at: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// Deletes the session with this cookie hash (logout); no error when there is none.
pub fn delete(conn: &Connection, hash: &[u8]) -> Result<(), DbError> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash])?;
    Ok(())
}

/// Deletes every expired session; returns how many went.
pub fn delete_expired(conn: &Connection) -> Result<usize, DbError> {
    Ok(conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now()])?)
}

/// Deletes every session of the user with this name (a password change).
pub fn delete_for_username(conn: &Connection, username: &str) -> Result<usize, DbError> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE username = ?1)",
        [username],
    )?)
}
