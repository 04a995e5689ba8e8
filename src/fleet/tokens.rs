//! API tokens for admins and pipelines.

use serde::Serialize;

use serde_json::json;

use crate::audit::{self, Actor};
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
pub fn create(db: &Db, name: &str, role: Role, actor: &Actor) -> Result<NewToken> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Validation(
            "Token name must be 1 to 100 characters".into(),
        ));
    }
    let token = tokens::mint(tokens::API_PREFIX);
    let row = db.write(|tx| {
        let row = rows::insert(tx, name, role, &tokens::hash(&token))?;
        audit::record(
            tx,
            actor,
            "token.create",
            &format!("token:{}", row.id.0),
            json!({"name": row.name, "role": row.role.as_str()}),
        )?;
        Ok::<_, Error>(row)
    })?;
    Ok(NewToken {
        id: row.id,
        name: row.name,
        role: row.role,
        token,
    })
}

/// Revokes an active token; `NotFound` when there is no active token with that id.
pub fn revoke(db: &Db, id: TokenId, actor: &Actor) -> Result<()> {
    db.write(|tx| {
        let (name, role) = rows::revoke(tx, id)?.ok_or_else(|| Error::not_found("Token", id))?;
        audit::record(
            tx,
            actor,
            "token.revoke",
            &format!("token:{}", id.0),
            json!({"name": name, "role": role.as_str()}),
        )?;
        Ok(())
    })
}
