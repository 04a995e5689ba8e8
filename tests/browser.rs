//! The dashboard in a real browser: `tests/browser/dashboard.mjs` drives the system Chromium
//! (Playwright's protocol client, no browser download) against a seeded crashbox, signs in,
//! opens a device and its dump, deletes dumps after confirming (with and without JavaScript),
//! checks that pages fit 375 px, and writes screenshots to `target/screenshots/`.
//!
//! Needs `chromium` (or `$CHROMIUM`), `node` and `npm ci --prefix tests/browser`. Without them
//! the test is skipped with a message on stderr (see `tests/support`), except under `CI=true`,
//! where it fails.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestApp, skip};
use crashbox::db::coredumps::{self, ParseErrorKind, Verdict};
use crashbox::ids::CoredumpId;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

const REPORT: &str = "================== CURRENT THREAD REGISTERS ===================
exccause       0x1c (LoadProhibitedCause)
excvaddr       0x00000000
epc1           0x400d2c1e
pc             0x400d2c1e   0x400d2c1e <read_sensor+22>

==================== CURRENT THREAD STACK =====================
#0  0x400d2c1e in read_sensor (ctx=0x0) at /src/main/sensor.c:87
#1  0x400d2d00 in sensor_task (arg=<optimized out>) at /src/main/sensor.c:120
#2  0x40089a4c in vPortTaskWrapper (pxCode=0x400d2cf0 <sensor_task>, pvParameters=0x0) at /idf/components/freertos/port/xtensa/port.c:162

======================== THREADS INFO =========================
  Id   Target Id          Frame
* 1    process 1073422000 0x400d2c1e in read_sensor (ctx=0x0) at /src/main/sensor.c:87
  2    process 1073419224 0x40089e2a in vTaskDelay (xTicksToDelay=100) at /idf/components/freertos/tasks.c:1588
";

#[test]
fn dashboard_in_chromium() {
    let Some(chrome) = chromium() else {
        return skip(
            "no Chromium found (apt-get install chromium chromium-driver, or set CHROMIUM)",
        );
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script_dir = root.join("tests/browser");
    if !script_dir.join("node_modules/playwright-core").is_dir() {
        return skip("playwright-core is not installed (npm ci --prefix tests/browser)");
    }
    if Command::new("node").arg("--version").output().is_err() {
        return skip("node is not installed");
    }

    let app = TestApp::start();
    let password = "browser test password";
    crashbox::fleet::users::set_password(&app.state().db, &app.config.data_dir, "admin", password)
        .unwrap();
    app.create_model("tempsensor");
    app.create_model("doorbell");
    let dev = app.create_device("tempsensor");
    for i in 0..6 {
        let other = app.create_device(if i % 2 == 0 { "tempsensor" } else { "doorbell" });
        app.upload(
            &other,
            "esp32c3",
            &format!("2.{i}.0"),
            &vec![3u8; 40_000 + i * 9000],
        );
    }
    let conn = app.state().db.conn().unwrap();
    let analysis = serde_json::json!({
        "crashed_task": {"tcb": 1073422000u32, "name": "sensor_task", "skipped": false},
        "panic_reason": null,
        "exception": {"cause": 28, "cause_name": "LoadProhibited", "registers": []},
        "frames_reliable": true,
        "tasks": [{"thread": 1, "status": "crashed", "frames": [
            {"pc": 0x400d2c1eu32, "function": "read_sensor", "file": "/src/main/sensor.c", "line": 87, "rom": false},
            {"pc": 0x400d2d00u32, "function": "sensor_task", "file": "/src/main/sensor.c", "line": 120, "rom": false},
            {"pc": 0x40089a4cu32, "function": "vPortTaskWrapper", "file": "/idf/components/freertos/port/xtensa/port.c", "line": 162, "rom": false}
        ]}],
        "warnings": []
    });
    let mut ids = Vec::new();
    for (fw, size) in [("1.4.0", 65_536), ("1.4.1", 81_920), ("1.5.0-rc1", 917_504)] {
        let r = app.upload(&dev, "esp32s3", fw, &vec![5u8; size]);
        assert_eq!(r.status, 201, "{}", r.text());
        ids.push(r.json()["coredump_id"].as_i64().unwrap());
    }
    coredumps::set_result(
        &conn,
        CoredumpId(ids[0]),
        Verdict::Failed(ParseErrorKind::DecodeFailed),
        Some("not a core dump"),
        None,
    )
    .unwrap();
    for id in &ids[1..] {
        coredumps::set_result(
            &conn,
            CoredumpId(*id),
            Verdict::Parsed,
            Some(REPORT),
            Some(&analysis.to_string()),
        )
        .unwrap();
    }

    let shots = root.join("target/screenshots");
    let out = Command::new("node")
        .arg(script_dir.join("dashboard.mjs"))
        .env("BASE_URL", &app.base)
        .env("USERNAME", "admin")
        .env("PASSWORD", password)
        .env("DEVICE_ID", dev.id.to_string())
        .env("DUMP_ID", ids[2].to_string())
        .env("DUMP2_ID", ids[1].to_string())
        .env("CHROMIUM", &chrome)
        .env("SHOT_DIR", &shots)
        .output()
        .expect("run node");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "browser checks failed");
    // The deletions really happened on the server.
    let left = coredumps::list_for_device(&conn, crashbox::ids::DeviceId(dev.id)).unwrap();
    assert_eq!(left.len(), 1, "only the ERROR dump is left");
    assert!(shots.join("phone-coredump.png").exists());
    assert!(shots.join("desktop-coredump.png").exists());
}
