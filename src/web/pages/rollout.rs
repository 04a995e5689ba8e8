//! The model page's rollout forms: set the model target, set the canary (version, devices by
//! key, tag), promote the canary, resume a halted canary. CSRF-checked forms that work without
//! JavaScript; each change goes to the audit log under the signed-in user's name, then the model
//! page is shown again with a notice (a refused change shows the error page with the reason).

use axum::extract::{Path, State};
use serde::Deserialize;

use super::error::{PageError, PageResult};
use super::guard::{AdminForm, Confirm};
use super::layout::see_other;
use crate::audit::Actor;
use crate::ids::ModelCode;
use crate::rollout::service::{self, CanaryInput, RolloutInput};
use crate::web::state::AppState;

/// The rollout form: `part` is `target` (with `target`) or `canary` (with `canary_version`,
/// `canary_devices`: keys separated by spaces, commas or lines, and `canary_tag`).
#[derive(Deserialize)]
pub struct RolloutForm {
    #[serde(default)]
    part: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    canary_version: String,
    #[serde(default)]
    canary_devices: String,
    #[serde(default)]
    canary_tag: String,
}

fn parse_code(raw: &str) -> Result<ModelCode, PageError> {
    ModelCode::parse(raw)
        .ok_or_else(|| PageError::not_found(format!("DeviceModel {raw} was not found")))
}

/// The device keys typed into the canary field (bounded by the form's size limit).
pub fn keys(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

/// `POST /models/{code}/rollout`.
pub async fn save(
    State(st): State<AppState>,
    Path(code): Path<String>,
    AdminForm { session, form }: AdminForm<RolloutForm>,
) -> PageResult {
    let code = parse_code(&code)?;
    let input = match form.part.as_str() {
        "target" => RolloutInput {
            target: Some(form.target),
            canary: None,
        },
        "canary" => RolloutInput {
            target: None,
            canary: Some(CanaryInput {
                version: Some(form.canary_version).filter(|v| !v.trim().is_empty()),
                devices: keys(&form.canary_devices),
                tag: Some(form.canary_tag).filter(|t| !t.trim().is_empty()),
            }),
        },
        _ => return Err(PageError::bad_request("Unknown rollout form.")),
    };
    let actor = Actor::User(session.username.clone());
    let c = code.as_str().to_string();
    st.blocking(move |st| service::set(&st.db, &c, &input, &actor))
        .await?;
    Ok(see_other(&format!("/models/{code}?done=rollout-saved")))
}

/// `POST /models/{code}/rollout/promote`.
pub async fn promote(
    State(st): State<AppState>,
    Path(code): Path<String>,
    AdminForm { session, .. }: AdminForm<Confirm>,
) -> PageResult {
    let code = parse_code(&code)?;
    let actor = Actor::User(session.username.clone());
    let c = code.as_str().to_string();
    st.blocking(move |st| service::promote(&st.db, &c, &actor))
        .await?;
    Ok(see_other(&format!("/models/{code}?done=rollout-promoted")))
}

/// `POST /models/{code}/rollout/resume`.
pub async fn resume(
    State(st): State<AppState>,
    Path(code): Path<String>,
    AdminForm { session, .. }: AdminForm<Confirm>,
) -> PageResult {
    let code = parse_code(&code)?;
    let actor = Actor::User(session.username.clone());
    let c = code.as_str().to_string();
    st.blocking(move |st| service::resume(&st.db, &c, &actor))
        .await?;
    Ok(see_other(&format!("/models/{code}?done=rollout-resumed")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_split_on_spaces_commas_and_lines() {
        assert_eq!(super::keys(" a1, b2\nc3;;d4 "), ["a1", "b2", "c3", "d4"]);
        assert!(super::keys("  ").is_empty());
    }
}
