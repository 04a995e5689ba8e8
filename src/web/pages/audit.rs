//! The audit log page (`/audit`): who changed what and when, newest first, 100 per page, with
//! filters (actor, action or action family, target, model) in a plain GET form and an "older"
//! link, so it works without JavaScript. [`AuditRow`] is also the model page's rollout log row.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::error::PageResult;
use super::guard::AdminPage;
use super::layout::{Chrome, Nav, render, utc};
use crate::audit::Filter;
use crate::db::audit::Entry;
use crate::web::state::AppState;

/// Entries per page.
pub const PAGE_SIZE: i64 = 100;

/// The action families offered by the filter (`group.` selects every group action).
const FAMILIES: &[(&str, &str)] = &[
    ("device.", "devices"),
    ("coredump.", "dumps"),
    ("model.", "models"),
    ("firmware.", "firmware"),
    ("rollout.", "rollouts"),
    ("group.", "crash groups"),
    ("channel.", "notification channels"),
    ("token.", "API tokens"),
    ("user.", "users"),
];

/// An audit log entry as shown.
pub struct AuditRow {
    /// Row id.
    pub id: i64,
    /// When, as (stored, display UTC).
    pub at: (String, String),
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Where the target's page is, when it has one.
    pub link: Option<String>,
    /// The particulars, as compact JSON.
    pub detail: String,
}

impl From<Entry> for AuditRow {
    fn from(e: Entry) -> AuditRow {
        AuditRow {
            id: e.id,
            at: (e.at.clone(), utc(&e.at)),
            link: target_link(&e.target),
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail.to_string(),
        }
    }
}

/// The dashboard page of a `<kind>:<name>` target, for the kinds that have one.
fn target_link(target: &str) -> Option<String> {
    let (kind, name) = target.split_once(':')?;
    let safe = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match kind {
        "model" if safe => Some(format!("/models/{name}")),
        "group" if safe && name.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("/groups/{name}"))
        }
        "channel" if safe && name.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("/notifications/channels/{name}"))
        }
        _ => None,
    }
}

/// The filter form's fields (all optional; `before` pages back).
#[derive(Deserialize, Default)]
pub struct AuditForm {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    before: String,
}

impl AuditForm {
    fn filter(&self) -> Filter {
        crate::audit::filter(
            [
                Some(&self.model),
                Some(&self.actor),
                Some(&self.action),
                Some(&self.target),
            ],
            self.before.trim().parse().ok(),
            PAGE_SIZE,
            PAGE_SIZE,
        )
    }

    /// The query string of this filter with `before` set to `id`.
    fn older(&self, id: i64) -> String {
        let before = id.to_string();
        let pairs: Vec<(&str, &str)> = [
            ("actor", self.actor.trim()),
            ("action", self.action.trim()),
            ("target", self.target.trim()),
            ("model", self.model.trim()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .chain([("before", before.as_str())])
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    entries: Vec<AuditRow>,
    form: AuditForm,
    families: &'static [(&'static str, &'static str)],
    /// `?…` of the next (older) page when this one is full.
    older: Option<String>,
    /// Whether this is a later page (offer the way back to the newest).
    paged: bool,
    retention_days: u32,
}

/// `GET /audit`: the audit log with its filters.
pub async fn show(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Query(form): Query<AuditForm>,
) -> PageResult {
    let filter = form.filter();
    let paged = filter.before.is_some();
    let entries = st
        .blocking(move |st| Ok(crate::audit::list(&*st.db.conn()?, &filter)?))
        .await?;
    let older = (entries.len() as i64 == PAGE_SIZE)
        .then(|| entries.last().map(|e| form.older(e.id)))
        .flatten();
    render(&AuditPage {
        c: Chrome::new("Audit log", &s, Nav::Audit),
        entries: entries.into_iter().map(AuditRow::from).collect(),
        form,
        families: FAMILIES,
        older,
        paged,
        retention_days: st.config.audit_retention_days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_link_to_their_pages_only_when_safe() {
        assert_eq!(target_link("model:ts-1").as_deref(), Some("/models/ts-1"));
        assert_eq!(target_link("group:12").as_deref(), Some("/groups/12"));
        assert_eq!(
            target_link("channel:3").as_deref(),
            Some("/notifications/channels/3")
        );
        assert_eq!(target_link("group:1x"), None);
        assert_eq!(target_link("model:a/../b"), None);
        assert_eq!(target_link("device:k3xq7mza"), None);
        assert_eq!(target_link("nothing"), None);
    }

    #[test]
    fn the_older_link_keeps_the_filters() {
        let form = AuditForm {
            actor: "admin".into(),
            action: "group.".into(),
            target: " ".into(),
            model: "a&b".into(),
            before: "99".into(),
        };
        assert_eq!(
            form.older(42),
            "actor=admin&action=group.&model=a%26b&before=42"
        );
        let f = form.filter();
        assert_eq!(f.before, Some(99));
        assert_eq!(f.target, None);
    }
}
