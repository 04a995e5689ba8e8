//! API tokens for admins and pipelines.

use serde::Serialize;

use crate::auth::tokens;
use crate::db::Db;
use crate::db::tokens::{self as rows, Role};
use crate::error::{Error, Result};
use crate::ids::TokenId;

/// A new token with its secret (shown this once).
#[derive(Debug, Serialize)]
pub struct NewToken {
    /// The token's row id.
    pub id: TokenId,
    /// The name given (trimmed).
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// The bearer token in clear text (`cba_…`); only its hash is stored.
    pub token: String,
}

/// Issues an API token with `role`; `name` must be 1–100 characters after trimming.
pub fn create(db: &Db, name: &str, role: Role) -> Result<NewToken> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Validation(
            "Token name must be 1 to 100 characters".into(),
        ));
    }
    let token = tokens::mint(tokens::API_PREFIX);
    let row = rows::insert(&*db.conn()?, name, role, &tokens::hash(&token))?;
    Ok(NewToken {
        id: row.id,
        name: row.name,
        role: row.role,
        token,
    })
}

/// Revokes an active token; `NotFound` when there is no active token with that id.
pub fn revoke(db: &Db, id: TokenId) -> Result<()> {
    if rows::revoke(&*db.conn()?, id)? {
        Ok(())
    } else {
        Err(Error::not_found("Token", id))
    }
}
