//! The home page: fleet counts (devices, dumps in the last 24 hours and 7 days, pending
//! parses, parse errors) and the most recent dumps.

use super::confirm::DoneQuery;
use askama::Template;
use axum::extract::{Query, State};

use super::error::PageResult;
use super::guard::AdminPage;
use super::layout::{Chrome, Nav, render};
use super::views::DumpView;
use crate::db::dashboard::{self, Counts};
use crate::db::format_ts;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Chrome,
    counts: Counts,
    recent: Vec<DumpView>,
}

/// `GET /`: the home page with the fleet counts and the ten newest dumps.
pub async fn show(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let now = chrono::Utc::now();
    let day_ago = format_ts(now - chrono::Duration::hours(24));
    let week_ago = format_ts(now - chrono::Duration::days(7));
    let (counts, recent) = st
        .blocking(move |st| {
            let conn = st.db.conn()?;
            Ok((
                dashboard::counts(&conn, &day_ago, &week_ago)?,
                dashboard::recent_dumps(&conn, 10)?,
            ))
        })
        .await?;
    render(&HomePage {
        c: Chrome::new("Overview", &s, Nav::Home).with_flash(q.done.as_deref()),
        counts,
        recent: recent.iter().map(DumpView::from).collect(),
    })
}
