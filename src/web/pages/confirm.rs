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
    pub c: Chrome,
    pub heading: String,
    pub message: String,
    pub action: String,
    pub button: &'static str,
    pub cancel: String,
}

/// `?done=` after a redirect, naming the notice to show.
#[derive(Deserialize)]
pub struct DoneQuery {
    pub done: Option<String>,
}
