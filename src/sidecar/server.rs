//! `crashbox sidecar --xfer-dir DIR [--bind ADDR]`: the sidecar protocol of the original Python
//! system ([`super::wire`]), served by the built-in decoder.
//!
//! - Only plain basenames inside the transfer folder are accepted (`400` otherwise); a missing
//!   file is `404`.
//! - Success is `200 {"output": "<info_corefile-style report>"}`; a dump the decoder rejects is
//!   `422 {"error": "..."}` — any non-2xx is a failed attempt for the client.
//! - Decoding runs on the blocking pool through one [`Engine`] (limits, deadline, a
//!   memory-bounded cache of parsed ELFs keyed by their SHA-256).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use super::wire;
use crate::decode::{self, Chip, Engine, ReadError};
use crate::store::is_plain_name;

/// What the handlers share: the transfer folder and the decode engine.
#[derive(Clone)]
pub struct SidecarState {
    xfer_dir: Arc<PathBuf>,
    engine: Arc<Engine>,
}

impl SidecarState {
    /// Serves files of `xfer_dir`, decoded by `engine`.
    pub fn new(xfer_dir: PathBuf, engine: Engine) -> SidecarState {
        SidecarState {
            xfer_dir: Arc::new(xfer_dir),
            engine: Arc::new(engine),
        }
    }
}

/// The sidecar's routes: the parse request and `/healthz`.
pub fn router(state: SidecarState) -> Router {
    Router::new()
        .route(wire::PARSE_PATH, get(parse_coredump))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .with_state(state)
}

type Answer = (StatusCode, Json<Value>);

fn fail(status: StatusCode, msg: impl Into<String>) -> Answer {
    (status, Json(wire::error_body(&msg.into())))
}

async fn parse_coredump(
    State(st): State<SidecarState>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let started = Instant::now();
    let param = |name: &str| q.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let (Some(core), Some(elf)) = (param(wire::CORE_PARAM), param(wire::ELF_PARAM)) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "query parameters core and elf are required",
        );
    };
    for name in [core, elf] {
        if !is_plain_name(name) {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("{name:?} is not a file name inside the transfer folder"),
            );
        }
    }
    let chip = match decode::parse_chip(param(wire::CHIP_PARAM).unwrap_or("")) {
        Ok(c) => c,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let (core, elf) = (st.xfer_dir.join(core), st.xfer_dir.join(elf));
    let engine = st.engine.clone();
    let result =
        tokio::task::spawn_blocking(move || decode_files(&engine, &core, &elf, chip)).await;
    let answer = match result {
        Ok(Ok(output)) => (StatusCode::OK, Json(wire::output_body(&output))),
        Ok(Err(e)) => e,
        Err(e) => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("decode task failed: {e}"),
        ),
    };
    tracing::info!(
        status = answer.0.as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "parse-coredump"
    );
    answer
}

fn read_failed(e: ReadError) -> Answer {
    let status = match e {
        ReadError::NotFound { .. } => StatusCode::NOT_FOUND,
        ReadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ReadError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    fail(status, e.to_string())
}

fn decode_files(
    engine: &Engine,
    core: &Path,
    elf: &Path,
    chip: Option<Chip>,
) -> Result<String, Answer> {
    let dump = decode::read_dump(core).map_err(read_failed)?;
    let elf = decode::read_elf(elf).map_err(read_failed)?;
    let symbolizer = engine
        .symbolizer(&elf, None)
        .map_err(|e| fail(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let analysis = engine.decode(&dump, Some(&symbolizer), chip).map_err(|e| {
        fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("cannot decode core dump: {e}"),
        )
    })?;
    Ok(analysis.report_text())
}
