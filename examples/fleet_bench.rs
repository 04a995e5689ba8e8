//! Fleet benchmark.
//!
//! 1. **OTA polls with check-ins**: 10,000 devices (seeded straight into SQLite with known
//!    tokens) poll `GET /api/iot/firmware-version?current_version=V` from 16 keep-alive clients
//!    against the real router on loopback; requests/s, latency percentiles, and the check-in
//!    rows and commits written per second (the throttle: one write per device per minute unless
//!    its version changes; `--interval-ms 0` turns it off for comparison).
//! 2. **Release page**: with 10,000 devices (each seen on one or two versions), 100,000 dumps
//!    over 30 days and 400 crash groups, the release page, the model page and the releases API.
//!
//! ```text
//! cargo run --release --example fleet_bench -- [--devices 10000] [--clients 16] [--seconds 10]
//!     [--interval-ms 60000] [--requests 500] [--skip-polls] [--skip-pages]
//! ```

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crashbox::app::App;
use crashbox::config::Config;
use crashbox::db::format_ts;
use rusqlite::params;
use support::{Rng, ms, pct};

struct Opts {
    devices: usize,
    clients: usize,
    seconds: u64,
    interval_ms: u64,
    requests: usize,
    polls: bool,
    pages: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        devices: 10_000,
        clients: 16,
        seconds: 10,
        interval_ms: 60_000,
        requests: 500,
        polls: true,
        pages: true,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).map(String::as_str).unwrap_or("");
        let mut took = true;
        match args[i].as_str() {
            "--devices" => o.devices = v.parse().expect("--devices"),
            "--clients" => o.clients = v.parse().expect("--clients"),
            "--seconds" => o.seconds = v.parse().expect("--seconds"),
            "--interval-ms" => o.interval_ms = v.parse().expect("--interval-ms"),
            "--requests" => o.requests = v.parse().expect("--requests"),
            "--skip-polls" => (o.polls, took) = (false, false),
            "--skip-pages" => (o.pages, took) = (false, false),
            other => panic!("unknown flag {other}"),
        }
        i += if took { 2 } else { 1 };
    }
    o
}

const VERSIONS: [&str; 4] = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"];
const DUMPS: usize = 100_000;
const GROUPS: usize = 400;
const DAYS: i64 = 30;

/// Seeds model `bench` with its four versions uploaded (rows only), `n` devices with tokens
/// `bench-token-<i>`, and (for the page part) the check-in history, dumps and groups.
fn seed(app: &App, n: usize, history: bool) {
    let now = chrono::Utc::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    app.state
        .db
        .write(|tx| -> Result<(), crashbox::db::DbError> {
            let ts = format_ts(now);
            tx.execute(
                "INSERT INTO device_models (code, name, firmware_version, created_at, updated_at)
                 VALUES ('bench', 'Bench', '1.2.0', ?1, ?1)",
                [&ts],
            )?;
            for (i, v) in VERSIONS.iter().enumerate() {
                let at = format_ts(now - chrono::Duration::days(40 - 10 * i as i64));
                tx.execute(
                    "INSERT INTO firmware_versions (device_model_id, version, sha256, size,
                        has_elf, uploaded_at, created_at) VALUES (1, ?1, 'x', 1, 1, ?2, ?2)",
                    params![v, at],
                )?;
            }
            let mut device = tx.prepare(
                "INSERT INTO devices (key, device_model_id, name, token_hash, created_at,
                    updated_at, last_seen_at, running_version) VALUES (?1, 1, '', ?2, ?3, ?3, ?4, ?5)",
            )?;
            let mut seen = tx.prepare(
                "INSERT INTO device_versions (device_id, device_model_id, version, first_seen_at,
                    last_seen_at, last_dump_at) VALUES (?1, 1, ?2, ?3, ?4, ?5)",
            )?;
            for d in 0..n {
                let key = crashbox::ids::DeviceKey::generate();
                let token = format!("bench-token-{d}");
                // Most devices on 1.2.0 (the target), some still on 1.1.0, a canary on 1.3.0.
                let v = match d % 20 {
                    0 => VERSIONS[3],
                    1..=5 => VERSIONS[1],
                    _ => VERSIONS[2],
                };
                let last = format_ts(now - chrono::Duration::minutes(rng.below(600) as i64));
                device.execute(params![
                    key.as_str(),
                    crashbox::auth::tokens::hash(&token).to_vec(),
                    ts,
                    history.then_some(&last),
                    history.then_some(v)
                ])?;
                if history {
                    let id = (d + 1) as i64;
                    let first = format_ts(now - chrono::Duration::days(rng.below(30) as i64 + 1));
                    let crashed = (rng.below(100) < 3)
                        .then(|| format_ts(now - chrono::Duration::days(rng.below(10) as i64)));
                    seen.execute(params![id, v, first, last, crashed])?;
                    if v != VERSIONS[1] && d % 3 == 0 {
                        let before = format_ts(now - chrono::Duration::days(20));
                        seen.execute(params![id, VERSIONS[1], before, first, None::<String>])?;
                    }
                }
            }
            if !history {
                return Ok(());
            }
            let mut day = tx.prepare(
                "INSERT INTO release_days (device_model_id, version, day, devices, dumps)
                 VALUES (1, ?1, ?2, ?3, ?4)",
            )?;
            let per_day = DUMPS as i64 / DAYS;
            for (i, v) in VERSIONS.iter().enumerate() {
                for back in 0..DAYS {
                    let d = (now - chrono::Duration::days(back)).format("%Y-%m-%d").to_string();
                    let devices = (n as i64 * [1, 25, 70, 5][i]) / 100;
                    day.execute(params![v, d, devices, per_day / 4])?;
                }
                tx.execute(
                    "INSERT INTO release_dumps (device_model_id, version, dumps, first_seen_at)
                     VALUES (1, ?1, ?2, ?3)",
                    params![v, DUMPS as i64 / 4, ts],
                )?;
            }
            let mut group = tx.prepare(
                "INSERT INTO crash_groups (device_model_id, signature, title, reason, frames,
                    count, first_seen, last_seen, first_version, last_version, created_at,
                    updated_at) VALUES (1, ?1, ?2, 'abort', '[]', 250, ?3, ?3, ?4, ?4, ?3, ?3)",
            )?;
            for g in 0..GROUPS {
                group.execute(params![
                    format!("v1:{g:064x}"),
                    format!("abort() in handler_{g}"),
                    ts,
                    VERSIONS[g % 4]
                ])?;
            }
            let mut dump = tx.prepare(
                "INSERT INTO coredumps (device_id, filename, chip, firmware_version, size,
                    parse_status, group_id, uploaded_at, created_at, updated_at)
                 VALUES (?1, ?2, 'esp32c3', ?3, 65536, 'PARSED', ?4, ?5, ?5, ?5)",
            )?;
            for i in 0..DUMPS {
                let at = format_ts(now - chrono::Duration::seconds(rng.below(86_400 * 30) as i64));
                dump.execute(params![
                    (rng.below(n) + 1) as i64,
                    format!("coredump_{i}.dmp"),
                    VERSIONS[rng.below(4)],
                    (rng.below(GROUPS) + 1) as i64,
                    at
                ])?;
            }
            Ok(())
        })
        .expect("seed");
    app.state
        .db
        .conn()
        .expect("conn")
        .execute_batch("ANALYZE")
        .expect("analyze");
}

fn polls(o: &Opts) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_data_dir(dir.path().join("data"));
    config.workers = 0;
    config.checkin_interval = Duration::from_millis(o.interval_ms);
    let app = App::open(config).expect("app");
    let t = Instant::now();
    seed(&app, o.devices, false);
    println!("seeded {} devices in {:.2?}", o.devices, t.elapsed());
    let (_rt, base) = support::serve(app.router());
    let checkins = app.state.checkins.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let (written0, commits0) = (checkins.written(), checkins.commits());
    let load0 = support::load_average();
    let start = Instant::now();
    let workers: Vec<_> = (0..o.clients)
        .map(|c| {
            let (stop, base, n) = (stop.clone(), base.clone(), o.devices);
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut rng = Rng(0x1234_5678 + c as u64);
                let mut lat = Vec::new();
                let mut errors = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let d = rng.below(n);
                    let v = match d % 20 {
                        0 => VERSIONS[3],
                        1..=5 => VERSIONS[1],
                        _ => VERSIONS[2],
                    };
                    let t = Instant::now();
                    let r = agent
                        .get(format!(
                            "{base}/api/iot/firmware-version?current_version={v}"
                        ))
                        .header("Authorization", format!("Bearer bench-token-{d}"))
                        .call();
                    match r {
                        Ok(mut resp) if resp.status().as_u16() == 200 => {
                            let _ = resp.body_mut().read_to_vec();
                            lat.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut first_pass = None;
    while start.elapsed() < Duration::from_secs(o.seconds) {
        std::thread::sleep(Duration::from_millis(50));
        if first_pass.is_none() && checkins.written() - written0 >= o.devices as u64 {
            first_pass = Some(start.elapsed());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.join().expect("client");
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    // What the writer still holds is written within one flush interval.
    std::thread::sleep(checkins.flush_every() + Duration::from_millis(200));
    let written = checkins.written() - written0;
    let commits = checkins.commits() - commits0;
    lat.sort();
    println!(
        "OTA polls: devices={} clients={} interval={}ms duration={elapsed:.1}s load avg {} -> {}",
        o.devices,
        o.clients,
        o.interval_ms,
        load0,
        support::load_average()
    );
    println!(
        "  requests ok={} errors={errors} rate={:.0}/s",
        lat.len(),
        lat.len() as f64 / elapsed
    );
    println!(
        "  latency p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.9)),
        ms(pct(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default())
    );
    println!(
        "  check-ins written: {written} rows in {commits} transactions = {:.0} rows/s, {:.1} commits/s{}",
        written as f64 / elapsed,
        commits as f64 / elapsed,
        first_pass
            .map(|t| format!(" (every device written once after {:.1}s)", t.as_secs_f64()))
            .unwrap_or_default()
    );
    drop(app);
}

fn pages(o: &Opts) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_data_dir(dir.path().join("data"));
    config.workers = 0;
    let app = App::open(config.clone()).expect("app");
    crashbox::fleet::users::set_password(
        &app.state.db,
        &config.data_dir,
        "admin",
        "bench-password",
        &crashbox::audit::Actor::Cli,
    )
    .expect("password");
    let t = Instant::now();
    seed(&app, o.devices, true);
    println!(
        "seeded {} devices, {DUMPS} dumps, {GROUPS} groups, 30 days of release totals in {:.2?}",
        o.devices,
        t.elapsed()
    );
    let cookie = support::admin_cookie(&app.state.db, "bench-password");
    let (_rt, base) = support::serve(app.router());
    println!("pages (load avg {}):", support::load_average());
    for (name, path) in [
        ("  release page 1.2.0", "/models/bench/releases/1.2.0"),
        ("  release page 1.3.0", "/models/bench/releases/1.3.0"),
        ("  model page (4 releases side by side)", "/models/bench"),
        (
            "  GET /api/models/bench/releases",
            "/api/models/bench/releases",
        ),
    ] {
        support::time_page(&base, &cookie, name, path, o.requests);
    }
}

fn main() {
    let o = opts();
    if o.polls {
        polls(&o);
    }
    if o.pages {
        pages(&o);
    }
}
