//! Device models: create and delete (with their firmware files).

use serde_json::json;

use crate::audit::{self, Actor};
use crate::db::{Db, models};
use crate::error::{Error, Result};
use crate::ids::ModelCode;
use crate::store::{self, Layout};

/// Creates a model; `name` defaults to the code and is at most 255 characters. `Exists` when the
/// code is taken.
pub fn create(db: &Db, code: &str, name: Option<&str>, actor: &Actor) -> Result<models::Model> {
    let code =
        ModelCode::parse(code).ok_or_else(|| Error::Validation(ModelCode::INVALID.into()))?;
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(code.as_str());
    if name.chars().count() > 255 {
        return Err(Error::Validation(
            "Model name must be at most 255 characters".into(),
        ));
    }
    db.write(|tx| {
        let model = models::insert(tx, code.as_str(), name)?
            .ok_or_else(|| Error::Exists(format!("DeviceModel for {code} already exists")))?;
        audit::record(
            tx,
            actor,
            "model.create",
            &format!("model:{code}"),
            json!({"name": model.name}),
        )?;
        Ok(model)
    })
}

/// The model with code `code`, or `NotFound`.
pub fn find(db: &Db, code: &str) -> Result<models::Model> {
    let conn = db.conn()?;
    models::find_by_code(&conn, code)?.ok_or_else(|| Error::not_found("DeviceModel", code))
}

/// Deletes a model that has no devices, then its firmware files (best effort).
pub fn delete(db: &Db, layout: &Layout, code: &str, actor: &Actor) -> Result<()> {
    let model = find(db, code)?;
    if model.device_count > 0 {
        return Err(Error::InvalidOperation(format!(
            "Cannot delete device model because model has {} associated device(s)",
            model.device_count
        )));
    }
    db.write(|tx| {
        models::delete(tx, model.id)?;
        audit::record(
            tx,
            actor,
            "model.delete",
            &format!("model:{}", model.code),
            json!({"name": model.name}),
        )
    })?;
    store::remove_quietly(&layout.legacy_bin_path(&model.code));
    store::remove_dir_quietly(&layout.model_dir(&model.code));
    Ok(())
}
