//! `api_tokens`: admin and pipeline API tokens, stored only as SHA-256 hashes.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{DbError, now};
use crate::ids::TokenId;

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The admin API (`/api/*` outside the device and pipeline routes), same as a dashboard
    /// session.
    Admin,
    /// The CI pipeline API (`/api/pipeline/*`): firmware uploads and the current version.
    Pipeline,
}

impl Role {
    /// The stored (and API) spelling: `admin` or `pipeline`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Pipeline => "pipeline",
        }
    }
    /// Parses the stored spelling; anything else is `None`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "pipeline" => Some(Role::Pipeline),
            _ => None,
        }
    }
}

/// One row of `api_tokens` (without the hash).
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    /// The token's row id.
    pub id: TokenId,
    /// Free-text name given when it was issued.
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// When the token was issued, in the database's RFC 3339 form.
    pub created_at: String,
    /// When the token last authenticated (updated at most once a minute); `None` if never used.
    pub last_used_at: Option<String>,
    /// When the token was revoked; `None` while it is active.
    pub revoked_at: Option<String>,
}

fn from_row(r: &Row) -> rusqlite::Result<ApiToken> {
    let role: String = r.get(2)?;
    Ok(ApiToken {
        id: TokenId(r.get(0)?),
        name: r.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Pipeline),
        created_at: r.get(3)?,
        last_used_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

const SELECT: &str = "SELECT id, name, role, created_at, last_used_at, revoked_at FROM api_tokens";

/// Stores a new token by its hash and returns its row.
pub fn insert(conn: &Connection, name: &str, role: Role, hash: &[u8]) -> Result<ApiToken, DbError> {
    conn.execute(
        "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, role.as_str(), hash, now()],
    )?;
    let id = conn.last_insert_rowid();
    Ok(conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)?)
}

/// Every token, revoked ones included, in order of issue.
pub fn list(conn: &Connection) -> Result<Vec<ApiToken>, DbError> {
    let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY id"))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The active (not revoked) token with this hash, with the stored hash for a constant-time check.
pub fn find_active_by_hash(
    conn: &Connection,
    hash: &[u8],
) -> Result<Option<(ApiToken, Vec<u8>)>, DbError> {
    Ok(conn
        .query_row(
            "SELECT id, name, role, created_at, last_used_at, revoked_at, token_hash FROM api_tokens
             WHERE token_hash = ?1 AND revoked_at IS NULL",
            [hash],
            |r| Ok((from_row(r)?, r.get(6)?)),
        )
        .optional()?)
}

/// Records a use, at most once a minute per token so auth does not turn every read into a write.
pub fn touch(conn: &Connection, id: TokenId) -> Result<(), DbError> {
    let ts = now();
    conn.execute(
        "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1
         AND (last_used_at IS NULL OR last_used_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds'))",
        params![id.0, ts],
    )?;
    Ok(())
}

/// Revokes a token; the revoked token's name and role, `None` when there is no active token
/// with that id.
pub fn revoke(conn: &Connection, id: TokenId) -> Result<Option<(String, Role)>, DbError> {
    Ok(conn
        .query_row(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL
             RETURNING name, role",
            params![id.0, now()],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?
        .map(|(name, role)| (name, Role::parse(&role).unwrap_or(Role::Pipeline))))
}
