//! What every page shares: the [`Chrome`] the base template draws (signed-in user, CSRF token
//! for the logout form, active section, flash notice, asset URLs), rendering, redirects, and
//! the display formats (sizes, UTC timestamps, status badges).

use askama::Template;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::assets;
use super::error::{PageError, PageResult};
use crate::db::coredumps::ParseStatus;
use crate::db::sessions::Session;

/// The dashboard's sections, for the navigation's `aria-current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// No section (login, errors, other pages outside the navigation).
    None,
    /// The home page (`/`, "Problems") and the crash group pages.
    Home,
    /// The device list and device pages.
    Devices,
    /// Models and their firmware.
    Models,
    /// API tokens.
    Tokens,
    /// Notification channels and deliveries.
    Notifications,
    /// The audit log.
    Audit,
    /// The signed-in user's account (password change).
    Account,
}

/// The frame around every page.
pub struct Chrome {
    /// The page title; `<title>` shows it as `<title> · crashbox`.
    pub title: String,
    /// The signed-in user's name; `None` on pages seen before signing in.
    pub user: Option<String>,
    /// The session's CSRF token, put in every form the page has; empty when signed out.
    pub csrf: String,
    /// The active navigation section.
    pub nav: Nav,
    /// A fixed notice asked for by a redirect's `?done=` value.
    pub flash: Option<&'static str>,
    /// URL of the stylesheet, versioned by its content hash.
    pub css: String,
    /// URL of the script, versioned by its content hash.
    pub js: String,
    /// Seconds after which the page reloads itself (`<meta http-equiv="refresh">`).
    pub refresh: Option<u32>,
}

impl Chrome {
    /// The frame for a signed-in user's page in section `nav`.
    pub fn new(title: impl Into<String>, session: &Session, nav: Nav) -> Chrome {
        Chrome {
            title: title.into(),
            user: Some(session.username.clone()),
            csrf: session.csrf_token.clone(),
            nav,
            flash: None,
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            refresh: None,
        }
    }

    /// For pages seen before signing in (login, errors).
    pub fn anonymous(title: impl Into<String>) -> Chrome {
        Chrome {
            title: title.into(),
            user: None,
            csrf: String::new(),
            nav: Nav::None,
            flash: None,
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            refresh: None,
        }
    }

    /// Shows the notice named by a `?done=` value (only known names; never echoes input).
    pub fn with_flash(mut self, done: Option<&str>) -> Chrome {
        self.flash = done.and_then(flash_text);
        self
    }

    /// The active section's name, for the navigation's `aria-current`.
    pub fn section(&self) -> &'static str {
        match self.nav {
            Nav::None => "",
            Nav::Home => "home",
            Nav::Devices => "devices",
            Nav::Models => "models",
            Nav::Tokens => "tokens",
            Nav::Notifications => "notifications",
            Nav::Audit => "audit",
            Nav::Account => "account",
        }
    }
}

/// The fixed notices a redirect can ask for.
fn flash_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "device-deleted" => "Device deleted.",
        "dump-deleted" => "Core dump deleted.",
        "dumps-deleted" => "All core dumps of this device were deleted.",
        "reparse" => "Core dump queued for parsing again.",
        "model-created" => "Model created.",
        "model-deleted" => "Model deleted.",
        "firmware-uploaded" => "Firmware uploaded.",
        "firmware-deleted" => "Firmware version deleted.",
        "token-revoked" => "Token revoked.",
        "channel-added" => "Channel added. Send it a test to check that it arrives.",
        "channel-saved" => "Channel saved.",
        "channel-deleted" => "Channel deleted.",
        "test-queued" => "Test notification queued: its outcome shows under Recent deliveries.",
        "ota-changed" => "Firmware update setting saved.",
        "tag-changed" => "Tag saved.",
        "rollout-saved" => "Rollout saved.",
        "rollout-promoted" => "Canary promoted: its version is the model target now.",
        "rollout-resumed" => "Canary rollout resumed.",
        "password-changed" => "Password changed.",
        "group-resolved" => {
            "Crash group resolved. A dump from a newer firmware version reopens it."
        }
        "group-muted" => "Crash group muted: its dumps are still counted, and it never reopens.",
        "group-reopened" => "Crash group reopened.",
        "group-merged" => {
            "Crash groups merged: this group has the other one's dumps and counts now."
        }
        _ => return None,
    })
}

/// Renders a template as a page.
pub fn render(t: &impl Template) -> PageResult {
    t.render()
        .map(|html| Html(html).into_response())
        .map_err(PageError::internal)
}

/// Renders a page that shows a secret once: never stored by the browser or a proxy.
pub fn render_secret(t: &impl Template) -> PageResult {
    let mut resp = render(t)?;
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The redirect that ends a POST (303: the browser follows with a GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Human-readable size, 1024-based with one decimal (as the original UI).
pub fn size(bytes: i64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < KB * KB {
        format!("{:.1} KB", b / KB)
    } else {
        format!("{:.1} MB", b / (KB * KB))
    }
}

/// A stored UTC timestamp as shown without JavaScript: `2026-11-22 03:14 UTC`. The template
/// puts the raw value in `<time datetime>`, and `app.js` rewrites it in the browser's zone.
pub fn utc(ts: impl std::fmt::Display) -> String {
    let ts = ts.to_string();
    match (ts.get(..10), ts.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => ts,
    }
}

/// A parse status as badge text and CSS modifier.
pub fn badge(status: ParseStatus) -> (&'static str, &'static str) {
    match status {
        ParseStatus::Pending => ("Pending", "pending"),
        ParseStatus::Parsed => ("Parsed", "parsed"),
        ParseStatus::Error => ("Error", "error"),
    }
}

/// Pagination state for a list.
pub struct Pager {
    /// The current page, 1-based.
    pub page: i64,
    /// Number of pages (at least 1).
    pub pages: i64,
    /// Number of items on all pages.
    pub total: i64,
    /// 1-based position of the first item shown; 0 when nothing is shown.
    pub first_item: i64,
    /// 1-based position of the last item shown; 0 when nothing is shown.
    pub last_item: i64,
}

impl Pager {
    /// The pager for page `page` of `total` items, `per_page` a page, `shown` of them on this page.
    pub fn new(page: i64, per_page: i64, total: i64, shown: usize) -> Pager {
        let pages = ((total + per_page - 1) / per_page).max(1);
        let first_item = if shown == 0 {
            0
        } else {
            (page - 1) * per_page + 1
        };
        Pager {
            page,
            pages,
            total,
            first_item,
            last_item: first_item + shown as i64 - i64::from(shown > 0),
        }
    }
    /// The previous page's number; `None` on the first page.
    pub fn prev(&self) -> Option<i64> {
        (self.page > 1).then(|| (self.page - 1).min(self.pages))
    }
    /// The next page's number; `None` on the last page.
    pub fn next(&self) -> Option<i64> {
        (self.page < self.pages).then_some(self.page + 1)
    }
}

/// A `page` query value: 1-based, anything odd is page 1.
pub fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KB");
        assert_eq!(size(3 * 1024 * 1024 + 104858), "3.1 MB");
    }

    #[test]
    fn times_and_pages() {
        assert_eq!(utc("2026-11-22T03:14:34.123456Z"), "2026-11-22 03:14 UTC");
        assert_eq!(utc("junk"), "junk");
        let p = Pager::new(2, 50, 120, 50);
        assert_eq!((p.pages, p.first_item, p.last_item), (3, 51, 100));
        assert_eq!((p.prev(), p.next()), (Some(1), Some(3)));
        assert_eq!(page_number(Some("0")), 1);
        assert_eq!(page_number(Some("x")), 1);
    }
}
