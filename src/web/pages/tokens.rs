//! API tokens: the list (name, role, created, last used), creating one (its secret is shown
//! once) and revoking one.

use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::confirm::ConfirmPage;
use super::confirm::DoneQuery;
use super::error::{PageError, PageResult};
use super::guard::{AdminForm, AdminPage, Confirm};
use super::layout::{Chrome, Nav, render, render_secret, see_other, utc};
use crate::db::tokens::Role;
use crate::fleet;
use crate::fleet::tokens::NewToken;
use crate::ids::TokenId;
use crate::web::state::AppState;

/// One row of the tokens table.
pub struct TokenView {
    /// The token's row id.
    pub id: i64,
    /// Free-text name given when it was issued.
    pub name: String,
    /// `admin` or `pipeline`.
    pub role: &'static str,
    /// When it was issued as (stored RFC 3339, display UTC).
    pub created: (String, String),
    /// When it was last used as (stored, display); `None` if never.
    pub last_used: Option<(String, String)>,
    /// When it was revoked as (stored, display); `None` while active.
    pub revoked: Option<(String, String)>,
}

fn stamp(t: String) -> (String, String) {
    let u = utc(&t);
    (t, u)
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    c: Chrome,
    tokens: Vec<TokenView>,
}

/// `GET /tokens`: every API token and the create form.
pub async fn list(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let rows = st
        .blocking(|st| Ok(crate::db::tokens::list(&*st.db.conn()?)?))
        .await?;
    let tokens = rows
        .into_iter()
        .map(|t| TokenView {
            id: t.id.0,
            name: t.name,
            role: t.role.as_str(),
            created: stamp(t.created_at),
            last_used: t.last_used_at.map(stamp),
            revoked: t.revoked_at.map(stamp),
        })
        .collect();
    render(&TokensPage {
        c: Chrome::new("API tokens", &s, Nav::Tokens).with_flash(q.done.as_deref()),
        tokens,
    })
}

#[derive(Template)]
#[template(path = "token_created.html")]
struct TokenCreatedPage {
    c: Chrome,
    token: NewToken,
}

/// The create-token form.
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

/// `POST /tokens`: issues a token and shows its secret once.
pub async fn create(
    State(st): State<AppState>,
    AdminForm { session, form }: AdminForm<CreateForm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let role = Role::parse(&form.role)
        .ok_or_else(|| PageError::bad_request("Choose the role admin or pipeline."))?;
    let token = st
        .blocking(move |st| fleet::tokens::create(&st.db, &form.name, role, &actor))
        .await?;
    render_secret(&TokenCreatedPage {
        c: Chrome::new("Token created", &session, Nav::Tokens),
        token,
    })
}

fn parse_id(raw: &str) -> Result<TokenId, PageError> {
    raw.parse()
        .map(TokenId)
        .map_err(|_| PageError::not_found(format!("Token {raw} was not found")))
}

/// `GET /tokens/{id}/revoke`: asks before revoking a token.
pub async fn revoke_confirm(AdminPage(s): AdminPage, Path(id): Path<String>) -> PageResult {
    let id = parse_id(&id)?;
    render(&ConfirmPage {
        c: Chrome::new("Revoke token", &s, Nav::Tokens),
        heading: format!("Revoke token #{id}?"),
        message: "Anything using this token is refused from now on. This action cannot be undone."
            .into(),
        action: format!("/tokens/{id}/revoke"),
        button: "Revoke token",
        cancel: "/tokens".into(),
        fields: Vec::new(),
    })
}

/// `POST /tokens/{id}/revoke`: revokes the token (asks first unless `confirm=yes`).
pub async fn revoke(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { form, session }: AdminForm<Confirm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let id = parse_id(&id)?;
    if !form.confirmed() {
        return Ok(see_other(&format!("/tokens/{id}/revoke")));
    }
    st.blocking(move |st| fleet::tokens::revoke(&st.db, id, &actor))
        .await?;
    Ok(see_other("/tokens?done=token-revoked"))
}
