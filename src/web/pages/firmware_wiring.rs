//! The dashboard's two calls into the firmware service (branch `firmware`), kept in one place
//! so wiring them is a two-line change at merge: uploading a bundle from the browser and
//! deleting a stored version. Until that service is part of the build both answer
//! "not available", and the model page still lists what the database records.

use crate::error::{Error, Result};
use crate::web::state::AppState;

/// Stores an uploaded firmware bundle (ZIP) for `model_code` and makes it current; returns
/// the version read from the bundle. Blocking.
pub fn upload_bundle(_st: &AppState, _model_code: &str, _bundle: &[u8]) -> Result<String> {
    // TODO(merge): crate::firmware::service::upload(...) once the `firmware` branch lands.
    Err(Error::InvalidOperation(
        "Cannot upload firmware because the firmware service is not part of this build yet".into(),
    ))
}

/// Deletes one stored version of a model's firmware. Blocking.
pub fn delete_version(_st: &AppState, _model_code: &str, _version: &str) -> Result<()> {
    // TODO(merge): crate::firmware::service::delete(...) once the `firmware` branch lands.
    Err(Error::InvalidOperation(
        "Cannot delete firmware because the firmware service is not part of this build yet".into(),
    ))
}
