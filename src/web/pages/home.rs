//! The home page, "Problems": the fleet counts (devices, dumps in the last 24 hours and 7
//! days, pending parses, parse errors), the crash groups (open first, regressions first among
//! them; sortable by last seen, dumps or devices; filtered by model and status with a GET form;
//! 50 a page) and the most recent dumps with their crash.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::error::PageResult;
use super::guard::AdminPage;
use super::layout::{Chrome, Nav, Pager, page_number, render};
use super::views::{DumpView, GroupView};
use crate::db::dashboard::{self, Counts};
use crate::db::format_ts;
use crate::db::groups::{GroupStatus, Sort};
use crate::db::models::{self, Model};
use crate::error::Error;
use crate::groups::service;
use crate::web::state::AppState;

/// Groups per page.
pub const PER_PAGE: i64 = 50;

/// A column the group list can be sorted by, as its header link shows it.
pub struct SortLink {
    /// The column's heading.
    pub label: &'static str,
    /// The link: the current filters with this sort.
    pub href: String,
    /// Whether the list is sorted by it now.
    pub active: bool,
    /// Class of the table cell (`num` for counts).
    pub class: &'static str,
    /// The link's tooltip, e.g. "Sort by dumps, most first".
    pub hint: &'static str,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Chrome,
    counts: Counts,
    recent: Vec<DumpView>,
    groups: Vec<GroupView>,
    pager: Pager,
    /// `model=…&status=…&sort=…&` for the pager's links.
    query_prefix: String,
    models: Vec<Model>,
    model: String,
    status: String,
    sort: &'static str,
    by_last_seen: SortLink,
    by_count: SortLink,
    by_devices: SortLink,
    /// Whether any filter is set (the empty state then says "no match").
    filtered: bool,
    /// A filter that names no model: said on the page, the list is empty.
    filter_error: Option<String>,
}

/// Query of the Problems page; odd values fall back to the defaults.
#[derive(Deserialize)]
pub struct ListQuery {
    model: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

/// `model=…&status=…&sort=…&` of the non-default filters (for links that keep them).
fn query_of(model: &str, status: &str, sort: Sort) -> String {
    let mut q = Vec::new();
    if !model.is_empty() {
        q.push(("model", model));
    }
    if !status.is_empty() {
        q.push(("status", status));
    }
    if sort != Sort::default() {
        q.push(("sort", sort.as_str()));
    }
    match serde_urlencoded::to_string(&q) {
        Ok(s) if !s.is_empty() => s + "&",
        _ => String::new(),
    }
}

/// `GET /`: the Problems page.
pub async fn show(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let page = page_number(q.page.as_deref());
    let model = q.model.unwrap_or_default().trim().to_string();
    let status = q.status.as_deref().and_then(GroupStatus::parse);
    let sort = q.sort.as_deref().and_then(Sort::parse).unwrap_or_default();
    let now = chrono::Utc::now();
    let day_ago = format_ts(now - chrono::Duration::hours(24));
    let week_ago = format_ts(now - chrono::Duration::days(7));
    let filter = model.clone();
    let (counts, recent, models, groups) = st
        .blocking(move |st| {
            let model = Some(filter.as_str()).filter(|m| !m.is_empty());
            let offset = (page - 1) * PER_PAGE;
            let groups = match service::list(&st.db, model, status, sort, PER_PAGE, offset) {
                Ok(groups) => Ok(groups),
                Err(Error::NotFound(_)) => Err(format!("There is no model {filter:?}.")),
                Err(e) => return Err(e),
            };
            let conn = st.db.conn()?;
            Ok((
                dashboard::counts(&conn, &day_ago, &week_ago)?,
                dashboard::recent_dumps(&conn, 10)?,
                models::list(&conn)?,
                groups,
            ))
        })
        .await?;
    let (rows, total, filter_error) = match groups {
        Ok(p) => (p.rows, p.total, None),
        Err(message) => (Vec::new(), 0, Some(message)),
    };
    let status = status.map(GroupStatus::as_str).unwrap_or_default();
    let link = |label, key: Sort, class, hint| SortLink {
        label,
        href: match query_of(&model, status, key).trim_end_matches('&') {
            "" => "/".to_string(),
            q => format!("/?{q}"),
        },
        active: key == sort,
        class,
        hint,
    };
    let (by_last_seen, by_count, by_devices) = (
        link(
            "Last seen",
            Sort::LastSeen,
            "nowrap",
            "Sort by last seen, newest first",
        ),
        link("Dumps", Sort::Count, "num", "Sort by dumps, most first"),
        link(
            "Devices",
            Sort::Devices,
            "num",
            "Sort by devices, most first",
        ),
    );
    let groups: Vec<GroupView> = rows.iter().map(GroupView::from).collect();
    render(&HomePage {
        c: Chrome::new("Problems", &s, Nav::Home).with_flash(q.done.as_deref()),
        counts,
        recent: recent.iter().map(DumpView::from).collect(),
        pager: Pager::new(page, PER_PAGE, total, groups.len()),
        query_prefix: query_of(&model, status, sort),
        groups,
        models,
        filtered: !model.is_empty() || !status.is_empty(),
        model,
        status: status.to_string(),
        sort: sort.as_str(),
        by_last_seen,
        by_count,
        by_devices,
        filter_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_filters() {
        assert_eq!(query_of("", "", Sort::LastSeen), "");
        assert_eq!(
            query_of("temp sensor", "open", Sort::Count),
            "model=temp+sensor&status=open&sort=count&"
        );
    }
}
