//! Device check-ins and release health over HTTP: the OTA poll and dump uploads record last
//! seen, running version and version history, throttled to one write per device per interval
//! unless the version changes; crash-free devices per release on a constructed fleet.
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

fn release<'a>(list: &'a Value, version: &str) -> &'a Value {
    list["releases"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["version"] == version))
        .unwrap_or_else(|| panic!("no release {version} in {list}"))
}

#[test]
fn crash_free_devices_per_release_on_a_constructed_fleet() {
    let app = app();
    app.create_model("m");
    for v in ["1.0", "1.1"] {
        app.install_bundle("m", v, b"\x7fELF not decodable");
    }
    let fleet: Vec<TestDevice> = (0..5).map(|_| app.create_device("m")).collect();
    let [a, b, c, d, e] = [&fleet[0], &fleet[1], &fleet[2], &fleet[3], &fleet[4]];
    // a, b, c on 1.1; d on 1.0; e moved from 1.0 to 1.1; f reports a version never uploaded.
    for dev in [a, b, c] {
        poll(&app, dev, "1.1");
    }
    poll(&app, d, "1.0");
    poll(&app, e, "1.0");
    wait_running(&app, e, "1.0");
    poll(&app, e, "1.1");
    let f = app.create_device("m");
    poll(&app, &f, "0.9-dev");
    // One dump from a on 1.1; two from d on 1.0.
    assert_eq!(app.upload(a, "esp32c3", "1.1", b"dump").status, 201);
    for _ in 0..2 {
        assert_eq!(app.upload(d, "esp32c3", "1.0", b"dump").status, 201);
    }
    for dev in [a, b, c, e] {
        wait_running(&app, dev, "1.1");
    }
    wait_running(&app, &f, "0.9-dev");

    let r = app.get("/api/models/m/releases", Some(&app.admin));
    assert_eq!(r.status, 200, "{}", r.text());
    let list = r.json();
    let versions: Vec<&str> = list["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.1", "1.0", "0.9-dev"], "newest upload first");

    let new = release(&list, "1.1");
    assert_eq!(new["devices"], 4, "{new}");
    assert_eq!(new["devices_seen_7d"], 4);
    assert_eq!(new["devices_crashed_7d"], 1);
    assert_eq!(new["crash_free_7d"], 0.75);
    assert_eq!(
        (new["dumps"].clone(), new["dumps_7d"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(new["new_groups"], 0);
    assert!(new["uploaded_at"].is_string());

    let old = release(&list, "1.0");
    assert_eq!(old["devices"], 1, "only d still runs it");
    assert_eq!(old["devices_seen_7d"], 2, "d and e were seen on it");
    assert_eq!(old["devices_crashed_7d"], 1);
    assert_eq!(old["crash_free_7d"], 0.5);
    assert_eq!(old["dumps"], 2);

    let dev = release(&list, "0.9-dev");
    assert_eq!(dev["uploaded_at"], Value::Null, "reported, never uploaded");
    assert_eq!(dev["crash_free_7d"], 1.0);

    // One release with its 30 days.
    let one = app
        .get("/api/models/m/releases/1.1", Some(&app.admin))
        .json();
    assert_eq!(one["release"]["devices_seen_7d"], 4);
    let days = one["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let today = days.last().unwrap();
    assert_eq!(
        (today["devices"].clone(), today["dumps"].clone()),
        (json!(4), json!(1))
    );
    assert_eq!(one["is_target"], true);

    // No device seen: crash-free is null, not 100 %.
    app.install_bundle("m", "1.2", b"\x7fELF");
    let list = app.get("/api/models/m/releases", Some(&app.admin)).json();
    assert_eq!(release(&list, "1.2")["crash_free_7d"], Value::Null);
    assert_eq!(
        app.get("/api/models/nosuch/releases", Some(&app.admin))
            .status,
        404
    );
    assert_eq!(
        app.get("/api/models/m/releases/7.7", Some(&app.admin))
            .status,
        404
    );
}

#[test]
fn a_device_deleted_before_its_check_in_is_written_does_not_lose_the_others() {
    let app = TestApp::start_with(|c| {
        c.workers = 0;
        c.checkin_flush = Duration::from_secs(2);
    });
    app.create_model("m");
    let gone = app.create_device("m");
    let kept = app.create_device("m");
    poll(&app, &gone, "1.0");
    poll(&app, &kept, "1.0");
    let r = app.delete(&format!("/api/devices/{}", gone.id), Some(&app.admin));
    assert_eq!(r.status, 204);
    wait_running(&app, &kept, "1.0");
}

#[test]
fn a_reported_version_with_a_slash_links_to_its_release() {
    let app = app();
    app.create_model("m");
    let d = app.create_device("m");
    poll(&app, &d, "feat%2Fx-1");
    wait_running(&app, &d, "feat/x-1");
    let r = app.get("/api/models/m/releases/feat%2Fx-1", Some(&app.admin));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["release"]["devices"], 1);
}
