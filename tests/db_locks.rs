//! The database under a foreign write lock (issue 14): another process (the CLI, a backup,
//! `sqlite3`) holding `BEGIN IMMEDIATE` must not stall reads, and a write that cannot get the
//! lock in time is answered 503 with `Retry-After`, never 500. Here the test's own SQLite
//! connection to the database file plays the other process.
mod common;

use std::time::{Duration, Instant};

use common::{TestApp, wait_for};

/// A second connection to the app's database holding the write lock until dropped.
fn hold_write_lock(app: &TestApp) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(&app.config.db_path).unwrap();
    c.execute_batch("BEGIN IMMEDIATE; UPDATE device_models SET name = name;")
        .unwrap();
    c
}

fn in_flight(app: &TestApp) -> i64 {
    let text = app.get("/metrics", None).text();
    text.lines()
        .find_map(|l| l.strip_prefix("crashbox_http_requests_in_flight "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn reads_do_not_wait_behind_writers_queued_for_a_foreign_lock() {
    let app = TestApp::start_with(|c| {
        c.workers = 0;
        c.db_busy_timeout = Duration::from_secs(3);
    });
    app.create_model("m");
    let dev = app.create_device("m");
    let lock = hold_write_lock(&app);
    std::thread::scope(|scope| {
        // More uploads than the pool has connections, all queued for the write lock.
        let uploads: Vec<_> = (0..10)
            .map(|_| scope.spawn(|| app.upload(&dev, "esp32", "1.0", &[7u8; 100])))
            .collect();
        wait_for("the uploads to queue", Duration::from_secs(5), || {
            in_flight(&app) >= 11
        });
        let start = Instant::now();
        let r = app.get("/api/devices", Some(&app.admin));
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "a read waited {:?} behind the writers",
            start.elapsed()
        );
        for u in uploads {
            let r = u.join().unwrap();
            assert_eq!(r.status, 503, "{}", r.text());
            assert_eq!(r.header("retry-after").as_deref(), Some("5"));
            assert_eq!(r.json()["code"], "SERVICE_UNAVAILABLE");
        }
    });
    // Nothing half-stored, and the next upload after the lock is gone succeeds.
    assert!(app.dump_files(&dev.key).is_empty());
    drop(lock);
    let r = app.upload(&dev, "esp32", "1.0", &[7u8; 100]);
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn token_auth_does_not_write_per_request() {
    let app = TestApp::start_with(|c| c.db_busy_timeout = Duration::from_millis(300));
    // First use records last_used_at (in the background).
    assert_eq!(app.get("/api/models", Some(&app.admin)).status, 200);
    wait_for("last_used_at", Duration::from_secs(5), || {
        app.get("/api/tokens", Some(&app.admin)).json()["tokens"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| !t["last_used_at"].is_null()))
    });
    let lock = hold_write_lock(&app);
    // Under a foreign lock, token-authenticated reads answer at once, many times over.
    let start = Instant::now();
    for _ in 0..20 {
        assert_eq!(app.get("/api/models", Some(&app.admin)).status, 200);
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // A first use under the lock is still answered; the record is simply late.
    let t = crashbox::fleet::tokens::create(
        &app.state().db,
        "late",
        crashbox::db::tokens::Role::Admin,
        &crashbox::audit::Actor::Cli,
    );
    assert!(t.is_err(), "a write under a foreign lock should fail");
    drop(lock);
}

#[test]
fn an_autocommit_write_under_a_foreign_lock_is_a_503() {
    let app = TestApp::start_with(|c| c.db_busy_timeout = Duration::from_millis(300));
    let lock = hold_write_lock(&app);
    let r = app.post_json(
        "/api/models",
        Some(&app.admin),
        &serde_json::json!({"code": "x", "name": "x"}),
    );
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after").as_deref(), Some("5"));
    drop(lock);
    app.create_model("x");
}
