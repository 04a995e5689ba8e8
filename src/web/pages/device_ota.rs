//! The device page's firmware-update forms: pin to a version, exclude from updates, or follow
//! the rollout again (`POST /devices/{id}/ota`), and the device tag (`POST /devices/{id}/tag`).
//! CSRF-checked forms that work without JavaScript; each change goes to the audit log under the
//! signed-in user's name, then the device page is shown again with a notice.

use axum::extract::{Path, State};
use serde::Deserialize;

use super::devices::parse_device_id;
use super::error::{PageError, PageResult};
use super::guard::AdminForm;
use super::layout::see_other;
use crate::audit::Actor;
use crate::rollout::service::{self, OtaInput};
use crate::web::state::AppState;

/// The OTA form: `mode` is `pin` (with `version`), `exclude` or `follow`.
#[derive(Deserialize)]
pub struct OtaForm {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    version: String,
}

/// `POST /devices/{id}/ota`.
pub async fn set_ota(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { session, form }: AdminForm<OtaForm>,
) -> PageResult {
    let id = parse_device_id(&id)?;
    let input = match form.mode.as_str() {
        "pin" => OtaInput {
            pin: Some(form.version.trim().to_string()).filter(|v| !v.is_empty()),
            exclude: false,
        },
        "exclude" => OtaInput {
            pin: None,
            exclude: true,
        },
        "follow" => OtaInput::default(),
        _ => return Err(PageError::bad_request("Choose pin, exclude or follow.")),
    };
    if form.mode == "pin" && input.pin.is_none() {
        return Err(PageError::bad_request("Choose the version to pin to."));
    }
    let actor = Actor::User(session.username.clone());
    st.blocking(move |st| service::set_ota(&st.db, id, &input, &actor))
        .await?;
    Ok(see_other(&format!("/devices/{id}?done=ota-changed")))
}

/// The tag form.
#[derive(Deserialize)]
pub struct TagForm {
    #[serde(default)]
    tag: String,
}

/// `POST /devices/{id}/tag` (an empty tag clears it).
pub async fn set_tag(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { session, form }: AdminForm<TagForm>,
) -> PageResult {
    let id = parse_device_id(&id)?;
    let actor = Actor::User(session.username.clone());
    st.blocking(move |st| service::set_tag(&st.db, id, Some(&form.tag), &actor))
        .await?;
    Ok(see_other(&format!("/devices/{id}?done=tag-changed")))
}
