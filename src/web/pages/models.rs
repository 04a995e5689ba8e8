//! Models and firmware: the models with their current version and device count; a model page
//! with its releases side by side (devices, crash-free devices over 7 days, new groups; links
//! to the release pages), its rollout (target, canary, halt with the group that caused it, the
//! forms of [`super::rollout`]) and the audit log of its rollout and device OTA changes, its
//! stored firmware versions (target flag, size, ELF, uploaded) with download and delete, and a
//! form to upload a bundle from the browser; adding and deleting models.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use serde::Deserialize;

use super::confirm::ConfirmPage;
use super::confirm::DoneQuery;
use super::error::{PageError, PageResult};
use super::guard::{AdminForm, AdminPage, Confirm, check_csrf};
use super::layout::{Chrome, Nav, render, see_other, size, utc};
use crate::db::firmware;
use crate::db::models::Model;
use crate::fleet;
use crate::ids::{FirmwareVersion, ModelCode};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "models.html")]
struct ModelsPage {
    c: Chrome,
    models: Vec<Model>,
}

/// `GET /models`: every model with its current version and device count, and the add-model form.
pub async fn list(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let models = st
        .blocking(|st| Ok(crate::db::models::list(&*st.db.conn()?)?))
        .await?;
    render(&ModelsPage {
        c: Chrome::new("Models & firmware", &s, Nav::Models).with_flash(q.done.as_deref()),
        models,
    })
}

/// The add-model form.
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
}

/// `POST /models`: adds a model and opens its page.
pub async fn create(
    State(st): State<AppState>,
    AdminForm { form, session }: AdminForm<CreateForm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let model = st
        .blocking(move |st| {
            fleet::models::create(&st.db, form.code.trim(), Some(&form.name), &actor)
        })
        .await?;
    Ok(see_other(&format!(
        "/models/{}?done=model-created",
        model.code
    )))
}

/// One stored firmware version on a model page.
pub struct VersionView {
    /// The version string.
    pub version: String,
    /// Whether it is the model's current version.
    pub current: bool,
    /// Size of the app image, human-readable.
    pub size: String,
    /// Whether the bundle carried the app ELF (needed to decode dumps).
    pub has_elf: bool,
    /// Raw timestamp and its UTC rendering.
    pub uploaded: (String, String),
}

/// One release in the model page's side-by-side table.
pub struct ReleaseRow {
    /// The version (links to its release page).
    pub version: String,
    /// Devices running it now.
    pub devices: i64,
    /// Devices seen on it in 7 days.
    pub seen: i64,
    /// Of those, devices with a dump from it.
    pub crashed: i64,
    /// Crash-free devices, 7 days, as text.
    pub crash_free: String,
    /// Width of the crash-free bar (0–60), `None` without devices seen.
    pub bar: Option<u32>,
    /// Dumps from it in 7 days.
    pub dumps_7d: i64,
    /// Groups first seen in it.
    pub new_groups: i64,
    /// "target", "canary" or "".
    pub role: &'static str,
}

#[derive(Template)]
#[template(path = "model.html")]
struct ModelPage {
    c: Chrome,
    model: Model,
    /// The model's stored versions, newest upload first.
    versions: Vec<VersionView>,
    max_bundle: String,
    releases: Vec<ReleaseRow>,
    rollout: crate::rollout::service::Rollout,
    /// Title of the group that halted the canary.
    halt_group: Option<String>,
    audit: Vec<super::audit::AuditRow>,
}

/// Audit entries shown on a model page.
pub const AUDIT_SHOWN: i64 = 50;

fn parse_code(raw: &str) -> Result<ModelCode, PageError> {
    ModelCode::parse(raw)
        .ok_or_else(|| PageError::not_found(format!("DeviceModel {raw} was not found")))
}

/// `GET /models/{code}`: the model's stored firmware versions and the bundle upload form.
pub async fn show(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path(code): Path<String>,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let code = parse_code(&code)?;
    let (model, versions, releases, rollout, halt_group, audit) = st
        .blocking(move |st| {
            let model = fleet::models::find(&st.db, code.as_str())?;
            let releases = crate::releases::list(&st.db, code.as_str())?;
            let rollout = crate::rollout::service::get(&st.db, code.as_str())?;
            let conn = st.db.conn()?;
            let versions = firmware::list_for_model(&conn, model.id)?;
            let halt_group = match rollout.canary.halted_by_group {
                Some(g) => crate::db::groups::find(&conn, g)?.map(|g| g.title),
                None => None,
            };
            let filter = crate::audit::Filter {
                model: Some(code.as_str().to_string()),
                rollout_only: true,
                limit: AUDIT_SHOWN,
                ..Default::default()
            };
            let audit = crate::audit::list(&conn, &filter)?;
            Ok((model, versions, releases, rollout, halt_group, audit))
        })
        .await?;
    let releases = releases
        .into_iter()
        .map(|r| ReleaseRow {
            role: if rollout.target.as_deref() == Some(r.version.as_str()) {
                "target"
            } else if rollout.canary.version.as_deref() == Some(r.version.as_str()) {
                "canary"
            } else {
                ""
            },
            crash_free: super::release::percent(r.crash_free_7d),
            bar: r
                .crash_free_7d
                .map(|s| (s * 60.0).round().clamp(0.0, 60.0) as u32),
            version: r.version,
            devices: r.devices,
            seen: r.devices_seen_7d,
            crashed: r.devices_crashed_7d,
            dumps_7d: r.dumps_7d,
            new_groups: r.new_groups,
        })
        .collect();
    let audit = audit
        .into_iter()
        .map(super::audit::AuditRow::from)
        .collect();
    let current = model.firmware_version.clone();
    let versions = versions
        .into_iter()
        .map(|v| VersionView {
            current: current.as_ref() == Some(&v.version),
            size: size(v.size),
            has_elf: v.has_elf,
            uploaded: (v.uploaded_at.to_string(), utc(v.uploaded_at)),
            version: v.version.to_string(),
        })
        .collect();
    render(&ModelPage {
        c: Chrome::new(format!("Model {}", model.code), &s, Nav::Models)
            .with_flash(q.done.as_deref()),
        max_bundle: size(i64::try_from(st.config.max_bundle_bytes).unwrap_or(i64::MAX)),
        model,
        versions,
        releases,
        rollout,
        halt_group,
        audit,
    })
}

/// `GET /models/{code}/delete`: asks before deleting a model.
pub async fn delete_confirm(AdminPage(s): AdminPage, Path(code): Path<String>) -> PageResult {
    let code = parse_code(&code)?;
    render(&ConfirmPage {
        c: Chrome::new("Delete model", &s, Nav::Models),
        heading: format!("Delete model {code}?"),
        message: "The model and all of its stored firmware are deleted. A model that still has devices cannot be deleted. This action cannot be undone.".into(),
        action: format!("/models/{code}/delete"),
        button: "Delete model",
        cancel: format!("/models/{code}"),
        fields: Vec::new(),
    })
}

/// `POST /models/{code}/delete`: deletes the model and its firmware (asks first unless
/// `confirm=yes`).
pub async fn delete(
    State(st): State<AppState>,
    Path(code): Path<String>,
    AdminForm { form, session }: AdminForm<Confirm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let code = parse_code(&code)?;
    if !form.confirmed() {
        return Ok(see_other(&format!("/models/{code}/delete")));
    }
    st.blocking(move |st| fleet::models::delete(&st.db, &st.layout, code.as_str(), &actor))
        .await?;
    Ok(see_other("/models?done=model-deleted"))
}

/// Room for the multipart framing and the `csrf` field around the bundle itself.
pub const FORM_OVERHEAD: usize = 64 << 10;

/// Longest accepted `csrf` field (the token is 64 hex digits).
const MAX_CSRF_FIELD: usize = 256;

fn unreadable(e: axum::extract::multipart::MultipartError) -> PageError {
    PageError::new(
        e.status(),
        format!("The upload could not be read: {}", e.body_text()),
    )
}

/// Reads a multipart field, failing with 413 once it grows past `limit` bytes.
async fn read_field(
    field: &mut axum::extract::multipart::Field<'_>,
    limit: usize,
    what: &str,
) -> PageResult<Vec<u8>> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        if buf.len().saturating_add(chunk.len()) > limit {
            return Err(PageError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("The {what} is larger than {}", size(limit as i64)),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Receives a bundle from the browser (multipart: `csrf`, then the `bundle` file). The whole
/// form is capped by the route's body limit; each field by its own.
pub async fn upload_firmware(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path(code): Path<String>,
    mut multipart: Multipart,
) -> PageResult {
    let code = parse_code(&code)?;
    let _slot = st.firmware_upload_slot()?;
    let limit = usize::try_from(st.config.max_bundle_bytes).unwrap_or(usize::MAX);
    let (mut csrf, mut bundle) = (String::new(), None);
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") => {
                let raw = read_field(&mut field, MAX_CSRF_FIELD, "form token").await?;
                csrf = String::from_utf8_lossy(&raw).into_owned();
            }
            Some("bundle") => {
                check_csrf(&s, &csrf)?;
                bundle = Some(read_field(&mut field, limit, "bundle").await?);
            }
            _ => {}
        }
    }
    check_csrf(&s, &csrf)?;
    let bundle = bundle
        .filter(|b| !b.is_empty())
        .ok_or_else(|| PageError::bad_request("Choose a firmware bundle (.zip) to upload."))?;
    let model = code.as_str().to_string();
    let actor = crate::audit::Actor::User(s.username.clone());
    st.blocking(move |st| {
        crate::firmware::service::upload(
            &st.db, &st.layout, &st.config, &st.jobs, &model, &bundle, &actor,
        )
    })
    .await?;
    Ok(see_other(&format!("/models/{code}?done=firmware-uploaded")))
}

fn parse_version(raw: &str) -> Result<FirmwareVersion, PageError> {
    FirmwareVersion::parse(raw)
        .ok_or_else(|| PageError::not_found(format!("Firmware version {raw} was not found")))
}

/// `GET /models/{code}/firmware/{version}/delete`: asks before deleting a firmware version.
pub async fn firmware_delete_confirm(
    AdminPage(s): AdminPage,
    Path((code, version)): Path<(String, String)>,
) -> PageResult {
    let (code, version) = (parse_code(&code)?, parse_version(&version)?);
    render(&ConfirmPage {
        c: Chrome::new("Delete firmware", &s, Nav::Models),
        heading: format!("Delete firmware {version} of {code}?"),
        message: "The stored bundle and its ELF are deleted; devices can no longer download this version. This action cannot be undone.".into(),
        action: format!("/models/{code}/firmware/{version}/delete"),
        button: "Delete firmware",
        cancel: format!("/models/{code}"),
        fields: Vec::new(),
    })
}

/// `POST /models/{code}/firmware/{version}/delete`: deletes the version's files and row (asks first
/// unless `confirm=yes`).
pub async fn firmware_delete(
    State(st): State<AppState>,
    Path((code, version)): Path<(String, String)>,
    AdminForm { form, session }: AdminForm<Confirm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let (code, version) = (parse_code(&code)?, parse_version(&version)?);
    if !form.confirmed() {
        return Ok(see_other(&format!(
            "/models/{code}/firmware/{version}/delete"
        )));
    }
    let (c, v) = (code.as_str().to_string(), version.as_str().to_string());
    st.blocking(move |st| {
        crate::firmware::service::delete_version(&st.db, &st.layout, &c, &v, &actor)
    })
    .await?;
    Ok(see_other(&format!("/models/{code}?done=firmware-deleted")))
}
