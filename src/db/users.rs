//! `users`: dashboard accounts with argon2 password hashes.

use rusqlite::{Connection, OptionalExtension, params};

use super::{DbError, now};
use crate::ids::UserId;

/// One row of `users`: a dashboard account.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's row id.
    pub id: UserId,
    /// The login name.
    pub username: String,
    /// The argon2 password hash (PHC string).
    pub password_hash: String,
    /// Whether the user must set a new password before using the dashboard (first-run admin).
    pub must_change_password: bool,
    /// When the row last changed (its password, in practice), RFC 3339.
    pub updated_at: String,
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(r.get(0)?),
        username: r.get(1)?,
        password_hash: r.get(2)?,
        must_change_password: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

/// The user with this login name, if any.
pub fn find_by_name(conn: &Connection, username: &str) -> Result<Option<User>, DbError> {
    Ok(conn
        .query_row(
            "SELECT id, username, password_hash, must_change_password, updated_at FROM users WHERE username = ?1",
            [username],
            from_row,
        )
        .optional()?)
}

/// The user with row id `id`, if any.
pub fn find(conn: &Connection, id: UserId) -> Result<Option<User>, DbError> {
    Ok(conn
        .query_row(
            "SELECT id, username, password_hash, must_change_password, updated_at FROM users WHERE id = ?1",
            [id.0],
            from_row,
        )
        .optional()?)
}

/// Number of dashboard accounts.
pub fn count(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

/// Inserts a user and returns its row id.
pub fn insert(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    must_change: bool,
) -> Result<UserId, DbError> {
    conn.execute(
        "INSERT INTO users (username, password_hash, must_change_password, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![username, password_hash, must_change, now()],
    )?;
    Ok(UserId(conn.last_insert_rowid()))
}

/// Sets a password (and clears the must-change flag); `false` when there is no such user.
pub fn set_password(
    conn: &Connection,
    username: &str,
    password_hash: &str,
) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE users SET password_hash = ?2, must_change_password = 0, updated_at = ?3 WHERE username = ?1",
        params![username, password_hash, now()],
    )? > 0)
}
