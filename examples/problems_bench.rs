//! Problems page benchmark: seeds 4 models, 1,000 devices, 2,000 crash groups and 100,000
//! dumps straight into SQLite (the groups' lifetime tallies included), serves the real router on
//! 127.0.0.1:0 (no parse workers), signs in, and times the Problems page (`GET /`: the counts
//! strip, 50 groups and the 10 newest dumps) in its common variants, and one group page, over
//! loopback HTTP. Latency here is an upper bound of the server-side render time.
//!
//! ```text
//! cargo run --release --example problems_bench -- [--requests 300] [--keep DIR]
//! ```

mod support;

use std::time::Instant;

use crashbox::app::App;
use crashbox::config::Config;
use crashbox::db::format_ts;
use rusqlite::params;
use support::Rng;

const MODELS: usize = 4;
const DEVICES: usize = 1_000;
const GROUPS: usize = 2_000;
const DUMPS: usize = 100_000;
const DAYS: i64 = 60;

/// Lifetime tallies of one group while seeding.
#[derive(Default, Clone)]
struct Tally {
    count: i64,
    first: Option<(String, String)>,
    last: Option<(String, String)>,
    devices: std::collections::HashMap<usize, (i64, String)>,
    versions: std::collections::HashMap<String, i64>,
}

fn main() {
    let requests: usize = std::env::args()
        .skip_while(|a| a != "--requests")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().expect("temp dir");
    // `--keep DIR` seeds into DIR and leaves it there (to look at the database afterwards).
    let keep = std::env::args().skip_while(|a| a != "--keep").nth(1);
    let dir_path = keep
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    let mut config = Config::for_data_dir(dir_path.join("data"));
    config.workers = 0;
    let app = App::open(config.clone()).expect("app");
    let db = &app.state.db;
    crashbox::fleet::users::set_password(
        db,
        &config.data_dir,
        "admin",
        "benchmark-password",
        &crashbox::audit::Actor::Cli,
    )
    .expect("password");

    let seed = Instant::now();
    let now = chrono::Utc::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let keys: Vec<String> = (0..DEVICES)
        .map(|_| crashbox::ids::DeviceKey::generate().to_string())
        .collect();
    let group_id = db
        .write(|tx| -> Result<i64, crashbox::db::DbError> {
            let ts = format_ts(now);
            for m in 0..MODELS {
                tx.execute(
                    "INSERT INTO device_models (code, name, firmware_version, created_at, updated_at)
                     VALUES (?1, ?2, '2.3.0', ?3, ?3)",
                    params![format!("model{m}"), format!("Model {m}"), ts],
                )?;
            }
            let mut device = tx.prepare(
                "INSERT INTO devices (key, device_model_id, name, token_hash, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?;
            for (d, key) in keys.iter().enumerate() {
                device.execute(params![
                    key,
                    (d % MODELS + 1) as i64,
                    format!("device {d}"),
                    format!("token-{d}").into_bytes(),
                    ts
                ])?;
            }
            // Groups: 500 per model; 70 % open (5 % of them regressed), 20 % resolved, 10 %
            // muted. Titles as the signature module writes them.
            let mut group = tx.prepare(
                "INSERT INTO crash_groups (device_model_id, signature, title, reason, frames,
                     status, regressed, resolved_in_version, count, first_seen, last_seen,
                     first_version, last_version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'abort', ?4, ?5, ?6, ?7, 0, ?8, ?8, '', '', ?8, ?8)",
            )?;
            let mut signature = tx.prepare(
                "INSERT INTO crash_group_signatures (device_model_id, signature, group_id)
                 VALUES (?1, ?2, ?3)",
            )?;
            for g in 0..GROUPS {
                let model = (g % MODELS + 1) as i64;
                let (status, regressed, resolved_in) = match g % 20 {
                    0..=13 => ("open", g % 20 == 0, None),
                    14..=17 => ("resolved", false, Some("2.1.0")),
                    _ => ("muted", false, None),
                };
                let sig = format!("v1:{g:064x}");
                let function = format!("sensor_handler_{g}");
                group.execute(params![
                    model,
                    sig,
                    format!("abort() in {function} (sensor_{}.c:{})", g % 37, 10 + g % 400),
                    format!("[\"{function}\",\"app_main\"]"),
                    status,
                    regressed,
                    resolved_in,
                    ts
                ])?;
                signature.execute(params![model, sig, tx.last_insert_rowid()])?;
            }
            // Dumps: devices pick groups of their own model, skewed so a few groups are big.
            let mut dump = tx.prepare(
                "INSERT INTO coredumps (device_id, filename, chip, firmware_version, size,
                     parse_status, parse_error_kind, group_id, signature, uploaded_at, parsed_at,
                     created_at, updated_at)
                 VALUES (?1, ?2, 'esp32c3', ?3, 65536, ?4, ?5, ?6, ?7, ?8, ?8, ?8, ?8)",
            )?;
            let mut tallies = vec![Tally::default(); GROUPS];
            let versions = ["2.0.0", "2.1.0", "2.2.0", "2.3.0"];
            for i in 0..DUMPS {
                let d = rng.below(DEVICES);
                let model = d % MODELS;
                let per_model = GROUPS / MODELS;
                let pick = rng.below(per_model);
                let g = (pick * pick / per_model) * MODELS + model;
                let ago = chrono::Duration::seconds(rng.below((DAYS * 86_400) as usize) as i64);
                let at = format_ts(now - ago);
                let version = versions[rng.below(versions.len())];
                let failed = i % 20 == 0;
                dump.execute(params![
                    (d + 1) as i64,
                    format!("coredump_{i}.dmp"),
                    version,
                    if failed { "ERROR" } else { "PARSED" },
                    failed.then_some("firmware_missing"),
                    (!failed).then_some((g + 1) as i64),
                    (!failed).then(|| format!("v1:{g:064x}")),
                    at
                ])?;
                if failed {
                    continue;
                }
                let t = &mut tallies[g];
                t.count += 1;
                if t.first.as_ref().is_none_or(|f| at < f.0) {
                    t.first = Some((at.clone(), version.into()));
                }
                if t.last.as_ref().is_none_or(|l| at > l.0) {
                    t.last = Some((at.clone(), version.into()));
                }
                let e = t.devices.entry(d).or_insert((0, at.clone()));
                e.0 += 1;
                if at > e.1 {
                    e.1 = at.clone();
                }
                *t.versions.entry(version.into()).or_default() += 1;
            }
            let mut update = tx.prepare(
                "UPDATE crash_groups SET count = ?2, first_seen = ?3, first_version = ?4,
                     last_seen = ?5, last_version = ?6, devices = ?7 WHERE id = ?1",
            )?;
            let mut group_device = tx.prepare(
                "INSERT INTO crash_group_devices (group_id, device_id, device_key, count, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut group_version = tx.prepare(
                "INSERT INTO crash_group_versions (group_id, version, count) VALUES (?1, ?2, ?3)",
            )?;
            for (g, t) in tallies.iter().enumerate() {
                let id = (g + 1) as i64;
                let (Some(first), Some(last)) = (&t.first, &t.last) else {
                    continue;
                };
                update.execute(params![
                    id,
                    t.count,
                    first.0,
                    first.1,
                    last.0,
                    last.1,
                    t.devices.len() as i64
                ])?;
                for (d, (count, seen)) in &t.devices {
                    group_device.execute(params![
                        id,
                        (d + 1) as i64,
                        keys[*d],
                        count,
                        seen
                    ])?;
                }
                for (v, count) in &t.versions {
                    group_version.execute(params![id, v, count])?;
                }
            }
            // The biggest group, for the group page.
            Ok(tallies
                .iter()
                .enumerate()
                .max_by_key(|(_, t)| t.count)
                .map(|(g, _)| (g + 1) as i64)
                .unwrap_or(1))
        })
        .expect("seed");
    db.conn()
        .expect("conn")
        .execute_batch("ANALYZE")
        .expect("analyze");
    println!(
        "seeded {MODELS} models, {DEVICES} devices, {GROUPS} groups, {DUMPS} dumps in {:.2?}",
        seed.elapsed()
    );

    let cookie = support::admin_cookie(db, "benchmark-password");
    let (_rt, base) = support::serve(app.router());
    for (name, path) in [
        ("Problems page (/, 50 of 2,000 groups)", "/".to_string()),
        ("Problems, sorted by devices", "/?sort=devices".to_string()),
        (
            "Problems, one model, open only",
            "/?model=model2&status=open".to_string(),
        ),
        ("Problems, page 20", "/?page=20".to_string()),
        (
            "group page (the biggest group)",
            format!("/groups/{group_id}"),
        ),
    ] {
        support::time_page(&base, &cookie, name, &path, requests);
    }
}
