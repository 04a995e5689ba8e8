//! Dashboard render benchmark: seeds 500 devices × 20 dumps (10,000) straight through crashbox's
//! db functions, serves the real router on 127.0.0.1:0 (no parse workers), signs in, and times
//! `GET /devices` (first page, 50 rows) and `GET /devices/{id}` (a device with 20 dumps) over
//! loopback HTTP. Latency here is an upper bound of the server-side render time.
//!
//! ```text
//! cargo run --release --example dashboard_bench -- [--requests 500]
//! ```

use std::time::{Duration, Instant};

use crashbox::app::App;
use crashbox::config::Config;
use crashbox::db::{coredumps, devices};
use crashbox::ids::{DeviceKey, ModelId};

fn main() {
    let requests: usize = std::env::args()
        .skip_while(|a| a != "--requests")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_data_dir(dir.path().join("data"));
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
    let model = crashbox::fleet::models::create(db, "bench", None, &crashbox::audit::Actor::Cli)
        .expect("model");

    let seed = Instant::now();
    let mut device_ids = Vec::new();
    db.write(|tx| -> Result<(), crashbox::db::DbError> {
        for d in 0..500 {
            let key = DeviceKey::generate();
            let hash = crashbox::auth::tokens::hash(&format!("token-{d}"));
            let Some(dev) = devices::insert(
                tx,
                key.as_str(),
                ModelId(model.id.0),
                &format!("device {d}"),
                &hash,
            )?
            else {
                continue;
            };
            device_ids.push(dev.id);
            for i in 0..20i64 {
                let t = chrono::Utc::now() - chrono::Duration::minutes(d * 20 + i);
                let ts = crashbox::ids::Timestamp::from(t);
                coredumps::insert(
                    tx,
                    &coredumps::NewCoredump {
                        device_id: dev.id,
                        filename: &format!("coredump_{d}_{i}.dmp"),
                        chip: "esp32c3",
                        firmware_version: "v1.2.3-4-gabcdef",
                        size: 65_536 + i,
                        uploaded_at: ts,
                    },
                )?;
            }
        }
        Ok(())
    })
    .expect("seed");
    println!(
        "seeded {} devices, {} dumps in {:.2?}",
        device_ids.len(),
        device_ids.len() * 20,
        seed.elapsed()
    );

    let session = crashbox::auth::sessions::login(db, "admin", "benchmark-password")
        .expect("login")
        .expect("valid password");
    let cookie = format!("crashbox_session={}", session.cookie);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = app.router();
    rt.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mid = device_ids[device_ids.len() / 2];
    for (name, path) in [
        ("devices page (50 of 500 devices)", "/devices".to_string()),
        ("device page (20 dumps)", format!("/devices/{mid}")),
    ] {
        let mut lat = Vec::with_capacity(requests);
        let mut bytes = 0;
        for i in 0..requests + 20 {
            let t = Instant::now();
            let mut r = agent
                .get(format!("{base}{path}"))
                .header("Cookie", &cookie)
                .call()
                .expect("request");
            let body = r.body_mut().read_to_vec().expect("body");
            assert_eq!(
                r.status().as_u16(),
                200,
                "{}",
                String::from_utf8_lossy(&body)
            );
            if i >= 20 {
                lat.push(t.elapsed());
                bytes = body.len();
            }
        }
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        println!(
            "{name}: {} requests, {} bytes, p50={:.2}ms p99={:.2}ms max={:.2}ms",
            lat.len(),
            bytes,
            ms(pct(0.5)),
            ms(pct(0.99)),
            ms(*lat.last().expect("samples"))
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
