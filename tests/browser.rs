//! The dashboard in a real browser: `tests/browser/dashboard.mjs` drives the system Chromium
//! (Playwright's protocol client, no browser download) against a seeded crashbox, signs in,
//! opens the Problems page, a crash group (chart, actions with and without JavaScript, a merge
//! through its confirmation page), a device and its dump, deletes dumps after confirming (with
//! and without JavaScript), checks that pages fit 375 px (the frame table without sideways
//! scrolling), opens a model page (releases side by side with their crash-free rate, the rollout,
//! the audit log) and a release page (two SVG charts), promotes a canary and pins a device
//! without JavaScript, and writes screenshots to `target/screenshots/`.
//!
//! The groups come from dumps the real workers decode: the synthetic Xtensa crash always, and
//! the corpus's esp32c3 abort (real ESP-IDF frames) when the corpus is there.
//!
//! Needs `chromium` (or `$CHROMIUM`), `node` and `npm ci --prefix tests/browser`. Without them
//! the test is skipped with a message on stderr (see `tests/support`), except under `CI=true`,
//! where it fails.
mod common;
mod decode_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{TestApp, TestDevice, skip};
use crashbox::db::coredumps::{self, ParseErrorKind, Verdict};
use crashbox::db::groups::{self, GroupStatus};
use crashbox::ids::{CoredumpId, Timestamp};

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

/// Uploads `dump` from `dev` and waits for its parse; `(dump id, group id)`.
fn send(app: &TestApp, dev: &TestDevice, chip: &str, fw: &str, dump: &[u8]) -> (i64, i64) {
    let r = app.upload(dev, chip, fw, dump);
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["coredump_id"].as_i64().unwrap();
    let d = app.wait_parsed(dev.id, id, Duration::from_secs(30));
    let group = d["group_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("dump not grouped: {d}"));
    (id, group)
}

/// Groups as a fleet has them after a while: long titles, every status, a regression. Rows
/// only (no dumps), for the Problems page.
fn seed_more_groups(app: &TestApp) {
    let titles = [
        (
            "LoadProhibited in sensor_read_calibrated_value_from_eeprom (sensor_calibration.c:214)",
            "doorbell",
            GroupStatus::Open,
            true,
        ),
        (
            "Task watchdog timeout in wifi_reconnect_loop (net.c:88)",
            "doorbell",
            GroupStatus::Open,
            false,
        ),
        (
            "assert in ring_buffer_push (ring.c:41)",
            "tempsensor",
            GroupStatus::Resolved,
            false,
        ),
        (
            "Stack overflow in mqtt_task (mqtt_client_glue.cpp:302)",
            "tempsensor",
            GroupStatus::Muted,
            false,
        ),
        (
            "Store access fault in ota_write_chunk (ota.c:129)",
            "doorbell",
            GroupStatus::Resolved,
            false,
        ),
    ];
    app.state()
        .db
        .write(|tx| -> Result<(), crashbox::db::DbError> {
            for (i, (title, model, status, regressed)) in titles.into_iter().enumerate() {
                let model = crashbox::db::models::find_by_code(tx, model)?.unwrap().id;
                let seen =
                    Timestamp::from(chrono::Utc::now() - chrono::Duration::hours(5 * i as i64 + 1));
                let frames = vec![title.split(' ').nth(2).unwrap_or("f").to_string()];
                let id = groups::create(
                    tx,
                    &groups::NewGroup {
                        model,
                        signature: &format!("v1:{:064}", i + 1),
                        title,
                        reason: "abort",
                        frames: &frames,
                        seen,
                        version: "2.0.0",
                    },
                )?;
                for d in 0..(7 - i as i64) {
                    groups::count_dump(
                        tx,
                        id,
                        &groups::Counted {
                            device: crashbox::ids::DeviceId(1000 + d),
                            device_key: &format!("gone{d:04}"),
                            version: if d % 2 == 0 { "2.0.0" } else { "2.1.0" },
                            seen,
                        },
                    )?;
                }
                let resolved_in = (status == GroupStatus::Resolved || regressed).then_some("2.0.0");
                groups::set_status(tx, id, status, resolved_in, regressed)?;
            }
            Ok(())
        })
        .unwrap();
}

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
    crashbox::fleet::users::set_password(
        &app.state().db,
        &app.config.data_dir,
        "admin",
        password,
        &crashbox::audit::Actor::Cli,
    )
    .unwrap();
    app.create_model("tempsensor");
    app.create_model("doorbell");
    // A notification channel for the Notifications page (regressions only: nothing regresses
    // here, so nothing is sent).
    let r = app.post_json(
        "/api/notifications/channels",
        Some(&app.admin),
        &serde_json::json!({"kind": "slack", "name": "lab chat",
            "url": "https://hooks.slack.example/services/T0/B0/xyz",
            "events": ["group.regressed"], "models": ["tempsensor"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
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
        Verdict::Failed(ParseErrorKind::FirmwareMissing),
        Some("Unable to parse coredump: firmware ZIP not found for tempsensor version 1.4.0"),
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

    // Crash groups, decoded by the real workers: the synthetic Xtensa abort in func_a from two
    // devices (versions 3.0 and 3.1), and the corpus's esp32c3 abort in fail_once when the
    // corpus is there (otherwise the RISC-V synthetic crash in f0).
    let xt_elf = decode_support::xtensa_app();
    let xt = decode_support::xtensa_core(&decode_support::sha256_hex(&xt_elf)[..9]);
    app.install_bundle("tempsensor", "3.0", &xt_elf);
    app.install_bundle("tempsensor", "3.1", &xt_elf);
    let (a, b) = (
        app.create_device("tempsensor"),
        app.create_device("tempsensor"),
    );
    let (_, merged_group) = send(&app, &a, "esp32", "3.0", &xt);
    send(&app, &b, "esp32", "3.1", &xt);
    let corpus = common::support::corpus_dir().and_then(|dir| {
        Some((
            std::fs::read(dir.join("esp32c3/app.elf")).ok()?,
            common::corpus_device_upload("esp32c3")?,
        ))
    });
    let in_app = corpus.is_some();
    let (chip, elf, dump) = match corpus {
        Some((elf, dump)) => ("esp32c3", elf, dump),
        None => {
            let elf = decode_support::riscv_app();
            let dump = decode_support::riscv_core(&decode_support::sha256_hex(&elf)[..9]);
            ("esp32c3", elf, dump)
        }
    };
    app.install_bundle("tempsensor", "3.2", &elf);
    send(&app, &a, chip, "3.2", &dump);
    let (sample_dump, group) = send(&app, &b, chip, "3.2", &dump);
    seed_more_groups(&app);

    // Fleet health: devices checking in on 3.1 and 3.2 (and 3.0), a canary of 3.2 on device a
    // with 3.1 the target.
    let poll = |d: &TestDevice, v: &str| {
        let r = app.get(
            &format!("/api/iot/firmware-version?current_version={v}"),
            Some(&d.token),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    };
    poll(&a, "3.2");
    for v in ["3.1", "3.1", "3.1", "3.2", "3.0"] {
        poll(&app.create_device("tempsensor"), v);
    }
    let r = app.put_json(
        "/api/models/tempsensor/rollout",
        Some(&app.admin),
        &serde_json::json!({"target": "3.1", "canary": {"version": "3.2", "devices": [a.key]}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    common::wait_for("check-ins written", Duration::from_secs(20), || {
        let list = app
            .get("/api/models/tempsensor/releases", Some(&app.admin))
            .json();
        list["releases"].as_array().is_some_and(|a| {
            a.iter()
                .any(|r| r["version"] == "3.1" && r["devices_seen_7d"].as_i64() >= Some(3))
        })
    });

    let shots = root.join("target/screenshots");
    let out = Command::new("node")
        .arg(script_dir.join("dashboard.mjs"))
        .env("BASE_URL", &app.base)
        .env("USERNAME", "admin")
        .env("PASSWORD", password)
        .env("DEVICE_ID", dev.id.to_string())
        .env("DUMP_ID", ids[2].to_string())
        .env("DUMP2_ID", ids[1].to_string())
        .env("UNDECODED_DUMP_ID", ids[0].to_string())
        .env("GROUP_ID", group.to_string())
        .env("MERGED_GROUP_ID", merged_group.to_string())
        .env("SAMPLE_DEVICE_ID", b.id.to_string())
        .env("SAMPLE_DUMP_ID", sample_dump.to_string())
        .env("SAMPLE_IN_APP", if in_app { "1" } else { "0" })
        .env("MODEL", "tempsensor")
        .env("RELEASE", "3.2")
        .env("CANARY_DEVICE_ID", a.id.to_string())
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
    assert!(shots.join("desktop-problems.png").exists());
    assert!(shots.join("phone-group.png").exists());
    assert!(shots.join("desktop-model.png").exists());
    assert!(shots.join("desktop-release.png").exists());
    assert!(shots.join("phone-release.png").exists());
    // The promotion and the pin made without JavaScript went through, with their author.
    let rollout = app
        .get("/api/models/tempsensor/rollout", Some(&app.admin))
        .json();
    assert_eq!(rollout["target"], "3.2", "{rollout}");
    let log = app
        .get("/api/audit?model=tempsensor", Some(&app.admin))
        .json();
    assert_eq!(log["entries"][0]["action"], "device.ota", "{log}");
    assert_eq!(log["entries"][0]["actor"], "admin");
    assert_eq!(log["entries"][1]["action"], "rollout.promote");
    // The merge without JavaScript went through.
    let merged = app.get(&format!("/api/groups/{merged_group}"), Some(&app.admin));
    assert_eq!(merged.status, 404, "merged into #{group}");
}
