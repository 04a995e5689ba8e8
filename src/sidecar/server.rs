//! `crashbox sidecar --xfer-dir DIR [--bind ADDR]`: the seed's sidecar protocol served by the
//! built-in decoder.
//!
//! - Only plain basenames inside the transfer folder are accepted (`400` otherwise); a missing
//!   file is `404`.
//! - Success is `200 {"output": "<info_corefile-style report>"}`; a dump the decoder rejects is
//!   `422 {"error": "..."}` — any non-2xx is a failed attempt for the client.
//! - Decoding runs on the blocking pool with a deadline; firmware ELFs are parsed once and kept
//!   in a memory-bounded cache keyed by their SHA-256.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::decode::{self, Chip, Options, RomElfProvider, SymbolizerCache};
use crate::store::is_plain_name;

/// Largest core dump and ELF the sidecar reads.
const MAX_CORE_BYTES: u64 = 64 << 20;
const MAX_ELF_BYTES: u64 = 512 << 20;
/// Time budget of one decode.
const DECODE_BUDGET: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct SidecarState {
    xfer_dir: Arc<PathBuf>,
    cache: Arc<SymbolizerCache>,
    rom_elfs: Option<Arc<dyn RomElfProvider>>,
}

impl SidecarState {
    pub fn new(xfer_dir: PathBuf, rom_elfs: Option<Arc<dyn RomElfProvider>>) -> SidecarState {
        SidecarState {
            xfer_dir: Arc::new(xfer_dir),
            cache: Arc::new(SymbolizerCache::new(128 << 20)),
            rom_elfs,
        }
    }
}

pub fn router(state: SidecarState) -> Router {
    Router::new()
        .route("/parse-coredump", get(parse_coredump))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .with_state(state)
}

type Answer = (StatusCode, Json<Value>);

fn fail(status: StatusCode, msg: impl Into<String>) -> Answer {
    (status, Json(json!({"error": msg.into()})))
}

async fn parse_coredump(
    State(st): State<SidecarState>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let started = Instant::now();
    let param = |name: &str| q.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let (Some(core), Some(elf)) = (param("core"), param("elf")) else {
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
    let chip = match param("chip").map(str::parse::<Chip>) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let (core, elf) = (st.xfer_dir.join(core), st.xfer_dir.join(elf));
    let task_state = st.clone();
    let result =
        tokio::task::spawn_blocking(move || decode_files(&task_state, &core, &elf, chip)).await;
    let answer = match result {
        Ok(Ok(output)) => (StatusCode::OK, Json(json!({ "output": output }))),
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

fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, Answer> {
    let f = std::fs::File::open(path).map_err(|e| {
        let status = if e.kind() == std::io::ErrorKind::NotFound {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        fail(status, format!("cannot open {}: {e}", path.display()))
    })?;
    let mut buf = Vec::new();
    f.take(limit + 1).read_to_end(&mut buf).map_err(|e| {
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    if buf.len() as u64 > limit {
        return Err(fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} is larger than {limit} bytes", path.display()),
        ));
    }
    Ok(buf)
}

fn decode_files(
    st: &SidecarState,
    core: &Path,
    elf: &Path,
    chip: Option<Chip>,
) -> Result<String, Answer> {
    let dump = read_capped(core, MAX_CORE_BYTES)?;
    let elf = read_capped(elf, MAX_ELF_BYTES)?;
    let symbolizer = st
        .cache
        .get_or_build(&elf)
        .map_err(|e| fail(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let opts = Options {
        chip,
        rom_elfs: st.rom_elfs.clone(),
        deadline: Some(Instant::now() + DECODE_BUDGET),
        ..Options::default()
    };
    let analysis = decode::decode(&dump, Some(&symbolizer), &opts).map_err(|e| {
        fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("cannot decode core dump: {e}"),
        )
    })?;
    Ok(analysis.report_text())
}
