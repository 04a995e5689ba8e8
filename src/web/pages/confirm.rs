//! The confirmation page every destructive action shows when it is posted without
//! `confirm=yes` (so deleting works without JavaScript), and the `?done=` notice shown after the
//! redirect that follows an action.

use askama::Template;
use serde::Deserialize;

use super::layout::Chrome;

/// The confirmation page of a destructive action.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    /// The page frame.
    pub c: Chrome,
    /// The question, e.g. "Delete device abcd2345?".
    pub heading: String,
    /// What will happen, shown under the heading.
    pub message: String,
    /// Where the confirmed form posts (with `confirm=yes`).
    pub action: String,
    /// Text of the confirm button.
    pub button: &'static str,
    /// Where "Cancel" goes back to.
    pub cancel: String,
    /// More hidden fields the confirmed form posts, as (name, value).
    pub fields: Vec<(&'static str, String)>,
}

/// `?done=` after a redirect, naming the notice to show.
#[derive(Deserialize)]
pub struct DoneQuery {
    /// The notice name, e.g. `device-deleted`; unknown names show nothing.
    pub done: Option<String>,
}
