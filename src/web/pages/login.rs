//! Signing in and out, and changing the password (where a first-run admin ends up).
//!
//! The login form carries a double-submit token (a short-lived cookie plus a hidden field) so
//! another site cannot sign a browser into an account of its choosing. The session cookie is
//! HttpOnly and SameSite=Lax, and Secure when `CRASHBOX_COOKIE_SECURE` is set.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::PageResult;
use super::guard::{AdminForm, AdminPage, PASSWORD_PAGE, safe_next};
use super::layout::{Chrome, Nav, render, see_other};
use crate::auth::lockout::Lockout;
use crate::auth::{sessions, tokens};
use crate::error::Error;
use crate::web::auth::SESSION_COOKIE;
use crate::web::client::ClientAddr;
use crate::web::state::AppState;

const LOGIN_COOKIE: &str = "crashbox_login";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    next: String,
    username: String,
    login_csrf: String,
    error: Option<String>,
}

/// The `next` query: where to go after signing in (local paths only).
#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    crate::web::auth::cookie(headers, name).map(str::to_string)
}

fn set_cookie(resp: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn secure(st: &AppState) -> &'static str {
    if st.config.cookie_secure {
        "; Secure"
    } else {
        ""
    }
}

/// Renders the login form with a fresh double-submit token.
fn login_page(
    st: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<String>,
) -> PageResult {
    let token = tokens::random_hex(16);
    let page = LoginPage {
        c: Chrome::anonymous("Sign in"),
        next: safe_next(Some(next)).to_string(),
        username: username.to_string(),
        login_csrf: token.clone(),
        error,
    };
    let mut resp = render(&page)?;
    *resp.status_mut() = status;
    set_cookie(
        &mut resp,
        format!(
            "{LOGIN_COOKIE}={token}; Path=/login; Max-Age=3600; HttpOnly; SameSite=Strict{}",
            secure(st)
        ),
    );
    Ok(resp)
}

/// `GET /login`: the sign-in form, or straight on to `next` when already signed in.
pub async fn form(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult {
    // Already signed in: go straight on.
    let mut parts = axum::http::Request::new(()).into_parts().0;
    parts.headers = headers;
    if let Ok(Some(_)) = crate::web::auth::session(&parts, &st).await {
        return Ok(see_other(safe_next(q.next.as_deref())));
    }
    login_page(
        &st,
        StatusCode::OK,
        q.next.as_deref().unwrap_or("/"),
        "",
        None,
    )
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    login_csrf: String,
}

/// The session cookie for a new session.
fn session_cookie(st: &AppState, new: &sessions::NewSession) -> String {
    format!(
        "{SESSION_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
        new.cookie,
        sessions::SESSION_TTL.as_secs(),
        secure(st)
    )
}

/// `POST /login`: checks the form token, the lockout (by user name and client address) and
/// the password, then sets the session cookie.
pub async fn submit(
    State(st): State<AppState>,
    Extension(lockout): Extension<Arc<Lockout>>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LoginForm>,
) -> PageResult {
    let cookie = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    if cookie.is_empty() || cookie != f.login_csrf {
        let msg = "The sign-in form expired. Please try again.".to_string();
        return login_page(&st, StatusCode::FORBIDDEN, &f.next, &f.username, Some(msg));
    }
    let name = f.username.clone();
    let changed = st
        .blocking(move |st| crate::fleet::users::password_changed_at(&st.db, &name))
        .await?;
    if let Some(wait) = lockout.locked(&f.username, ip, changed, std::time::Instant::now()) {
        let minutes = wait.as_secs().div_ceil(60);
        let msg = format!(
            "Too many failed sign-ins from this address. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        );
        return login_page(
            &st,
            StatusCode::TOO_MANY_REQUESTS,
            &f.next,
            &f.username,
            Some(msg),
        );
    }
    let (username, password) = (f.username.clone(), f.password.clone());
    let opened = st
        .blocking(move |st| sessions::login(&st.db, &username, &password))
        .await?;
    let Some(new) = opened else {
        lockout.failed(&f.username, ip, std::time::Instant::now());
        tokio::time::sleep(Lockout::DELAY).await;
        let msg = "Wrong user name or password.".to_string();
        return login_page(
            &st,
            StatusCode::UNAUTHORIZED,
            &f.next,
            &f.username,
            Some(msg),
        );
    };
    lockout.succeeded(&f.username, ip);
    let to = if new.must_change_password {
        PASSWORD_PAGE
    } else {
        safe_next(Some(&f.next))
    };
    let mut resp = see_other(to);
    set_cookie(&mut resp, session_cookie(&st, &new));
    set_cookie(
        &mut resp,
        format!("{LOGIN_COOKIE}=; Path=/login; Max-Age=0; HttpOnly; SameSite=Strict"),
    );
    Ok(resp)
}

/// `POST /logout`: ends the session and clears its cookie.
pub async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
    _form: AdminForm<super::guard::Confirm>,
) -> PageResult {
    if let Some(value) = cookie_value(&headers, SESSION_COOKIE) {
        st.blocking(move |st| sessions::logout(&st.db, &value))
            .await?;
    }
    let mut resp = see_other("/login");
    set_cookie(
        &mut resp,
        format!(
            "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
            secure(&st)
        ),
    );
    Ok(resp)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    c: Chrome,
    first_run: bool,
    error: Option<String>,
}

/// `GET /account/password`: the change-password form.
pub async fn password_form(
    AdminPage(s): AdminPage,
    Query(q): Query<super::confirm::DoneQuery>,
) -> PageResult {
    render(&PasswordPage {
        c: Chrome::new("Change password", &s, Nav::Account).with_flash(q.done.as_deref()),
        first_run: s.must_change_password,
        error: None,
    })
}

/// The change-password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /account/password`: changes the signed-in user's password, signs the user out
/// everywhere else and replaces this browser's session with a new one.
pub async fn password_submit(
    State(st): State<AppState>,
    AdminForm { session, form }: AdminForm<PasswordForm>,
) -> PageResult {
    let username = session.username.clone();
    let result = st
        .blocking(move |st| {
            sessions::change_password(
                &st.db,
                &st.config.data_dir,
                &username,
                &form.current,
                &form.new,
                &form.confirm,
            )
        })
        .await;
    match result {
        Ok(new) => {
            let mut resp = see_other(if session.must_change_password {
                "/?done=password-changed"
            } else {
                "/account/password?done=password-changed"
            });
            set_cookie(&mut resp, session_cookie(&st, &new));
            Ok(resp)
        }
        Err(Error::Validation(msg)) => {
            let mut resp = render(&PasswordPage {
                c: Chrome::new("Change password", &session, Nav::Account),
                first_run: session.must_change_password,
                error: Some(msg),
            })?;
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            Ok(resp.into_response())
        }
        Err(e) => Err(e.into()),
    }
}
