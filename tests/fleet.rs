//! Device check-ins and release health over HTTP: the OTA poll and dump uploads record last
//! seen, running version and version history, throttled to one write per device per interval
//! unless the version changes.
mod common;

use std::time::Duration;

use common::{TestApp, TestDevice};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// An app whose check-ins are flushed quickly and whose dumps stay PENDING.
fn app() -> TestApp {
    TestApp::start_with(|c| {
        c.workers = 0;
        c.checkin_flush = Duration::from_millis(50);
    })
}

fn device(app: &TestApp, d: &TestDevice) -> Value {
    let r = app.get(&format!("/api/devices/{}", d.id), Some(&app.admin));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn poll(app: &TestApp, d: &TestDevice, version: &str) -> Value {
    let r = app.get(
        &format!("/api/iot/firmware-version?current_version={version}"),
        Some(&d.token),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn wait_running(app: &TestApp, d: &TestDevice, version: &str) -> Value {
    let mut last = Value::Null;
    common::wait_for(&format!("{} running {version}", d.key), WAIT, || {
        last = device(app, d);
        last["running_version"] == version
    });
    last
}

#[test]
fn check_ins_record_last_seen_version_history_with_a_throttle() {
    let app = app();
    app.create_model("m");
    let d = app.create_device("m");
    let fresh = device(&app, &d);
    assert_eq!(fresh["last_seen_at"], Value::Null, "never seen");
    assert_eq!(fresh["running_version"], Value::Null);
    assert_eq!(fresh["version_history"], json!([]));

    // The first poll with a version is written.
    assert_eq!(poll(&app, &d, "1.0")["firmware_version"], Value::Null);
    let first = wait_running(&app, &d, "1.0");
    let seen = first["last_seen_at"]
        .as_str()
        .expect("last_seen_at")
        .to_string();
    assert_eq!(app.metric("crashbox_device_checkin_writes_total"), 1.0);

    // More polls on the same version within the interval: no writes (query or header).
    for _ in 0..5 {
        poll(&app, &d, "1.0");
        let r = app.get_with(
            "/api/iot/firmware-version",
            Some(&d.token),
            &[("X-Firmware-Version", "1.0")],
        );
        assert_eq!(r.status, 200);
        assert_eq!(app.get("/api/iot/firmware", Some(&d.token)).status, 404);
    }
    // A new version is written at once, also through the header.
    let r = app.get_with(
        "/api/iot/firmware-version",
        Some(&d.token),
        &[("X-Firmware-Version", "1.1")],
    );
    assert_eq!(r.status, 200);
    let after = wait_running(&app, &d, "1.1");
    assert_eq!(
        app.metric("crashbox_device_checkin_writes_total"),
        2.0,
        "eleven polls on 1.0 and one on 1.1: two writes"
    );
    let history = after["version_history"].as_array().expect("history");
    assert_eq!(history.len(), 2, "{after}");
    assert_eq!(history[0]["version"], "1.1", "newest first");
    assert_eq!(history[1]["version"], "1.0");
    assert_eq!(
        history[1]["last_seen_at"], seen,
        "the throttled polls did not move the 1.0 sighting"
    );

    // Unencoded values as for uploads; blank is no version.
    poll(&app, &d, "v1.2.3-4-gabc+dirty");
    wait_running(&app, &d, "v1.2.3-4-gabc+dirty");
    assert_eq!(poll(&app, &d, "")["firmware_version"], Value::Null);

    // Bad values are a 400 with the reason.
    let long = "x".repeat(65);
    let r = app.get(
        &format!("/api/iot/firmware-version?current_version={long}"),
        Some(&d.token),
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("longer than 64"), "{}", r.error());
    let r = app.get("/api/iot/firmware?current_version=a%01b", Some(&d.token));
    assert_eq!(r.status, 400);
    assert!(r.error().contains("non-printable"), "{}", r.error());

    // The device list carries the fields too.
    let list = app.get("/api/devices", Some(&app.admin)).json();
    assert_eq!(list["devices"][0]["running_version"], "v1.2.3-4-gabc+dirty");
    assert!(list["devices"][0]["last_seen_at"].is_string(), "{list}");
}

#[test]
fn a_dump_upload_counts_as_seen_on_its_version() {
    let app = app();
    app.create_model("m");
    let d = app.create_device("m");
    let r = app.upload(&d, "esp32", "2.5", b"not a real dump");
    assert_eq!(r.status, 201, "{}", r.text());
    let v = wait_running(&app, &d, "2.5");
    assert!(v["last_seen_at"].is_string());
    assert_eq!(v["version_history"][0]["version"], "2.5");
    assert!(v["version_history"][0]["last_dump_at"].is_string(), "{v}");
}

#[test]
fn a_check_in_is_written_again_after_the_interval() {
    let app = TestApp::start_with(|c| {
        c.workers = 0;
        c.checkin_flush = Duration::from_millis(20);
        c.checkin_interval = Duration::from_millis(200);
    });
    app.create_model("m");
    let d = app.create_device("m");
    poll(&app, &d, "1.0");
    let first = wait_running(&app, &d, "1.0")["last_seen_at"].clone();
    // Polling keeps the device seen: once the interval is over, a poll is written again.
    common::wait_for("a second write after the interval", WAIT, || {
        poll(&app, &d, "1.0");
        device(&app, &d)["last_seen_at"] != first
    });
    assert!(app.metric("crashbox_device_checkin_writes_total") >= 2.0);
}
