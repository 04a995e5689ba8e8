//! Rollouts over HTTP: every answer of the OTA decision table (pin > exclusion > canary > model
//! target) on both device routes, uploads with `target=false`, retention keeping what a rollout
//! needs, promote, the automatic halt when a canary device running the canary version brings a
//! new crash group (or reopens a resolved one) — with a synthetic dump and its ELF decoded by the
//! real workers — its notification event, resume, the audit log, the CLI, and wrong principals.
mod common;
mod decode_support;

use std::time::Duration;

use common::{TestApp, TestDevice};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn offered(app: &TestApp, d: &TestDevice) -> (Value, Value) {
    let r = app.get("/api/iot/firmware-version", Some(&d.token));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    (v["firmware_version"].clone(), v["source"].clone())
}

fn upload(app: &TestApp, version: &str, query: &str) -> Value {
    let r = app.post(
        &format!("/api/pipeline/models/m/firmware{query}"),
        Some(&app.pipeline),
        "application/octet-stream",
        &common::pipeline::bundle("m", version, b"\x7fELF"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn put_rollout(app: &TestApp, body: Value) -> Value {
    let r = app.put_json("/api/models/m/rollout", Some(&app.admin), &body);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn ota(app: &TestApp, d: &TestDevice, body: Value) -> common::Resp {
    app.put_json(
        &format!("/api/devices/{}/ota", d.id),
        Some(&app.admin),
        &body,
    )
}

/// The ETag of what a device downloads (the image's SHA-256), or the status when not 200.
fn download(app: &TestApp, d: &TestDevice) -> Result<String, u16> {
    let r = app.get("/api/iot/firmware", Some(&d.token));
    match r.status {
        200 => Ok(r.header("etag").unwrap_or_default()),
        s => Err(s),
    }
}

fn etag_of(app: &TestApp, version: &str) -> String {
    let list = app.get("/api/models/m/firmware", Some(&app.admin)).json();
    let sha = list["versions"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["version"] == version))
        .and_then(|v| v["sha256"].as_str())
        .unwrap_or_else(|| panic!("no version {version} in {list}"))
        .to_string();
    format!("\"{sha}\"")
}

#[test]
fn every_answer_of_the_decision_table() {
    let app = TestApp::start_with(|c| {
        c.workers = 0;
        c.max_firmwares = 3;
    });
    app.create_model("m");
    let [plain, canary, tagged, pinned, excluded]: [TestDevice; 5] =
        std::array::from_fn(|_| app.create_device("m"));
    assert_eq!(
        offered(&app, &plain),
        (Value::Null, json!("target")),
        "no firmware yet"
    );

    // Uploads: 1.0 and 1.1 become the target in turn; 1.2 is stored without becoming it.
    assert_eq!(upload(&app, "1.0", "")["target"], true);
    assert_eq!(upload(&app, "1.1", "?target=true")["target"], true);
    assert_eq!(upload(&app, "1.2", "?target=false")["target"], false);
    assert_eq!(offered(&app, &plain), (json!("1.1"), json!("target")));
    let r = app.post(
        "/api/pipeline/models/m/firmware?target=maybe",
        Some(&app.pipeline),
        "application/octet-stream",
        &common::pipeline::bundle("m", "1.3", b"\x7fELF"),
    );
    assert_eq!(r.status, 400, "{}", r.text());

    // Canary by key and by tag.
    let r = app.patch_json(
        &format!("/api/devices/{}", tagged.id),
        Some(&app.admin),
        &json!({"tag": "lab"}),
    );
    assert_eq!((r.status, r.json()["tag"].clone()), (200, json!("lab")));
    let rollout = put_rollout(
        &app,
        json!({"canary": {"version": "1.2", "devices": [canary.key], "tag": "lab"}}),
    );
    assert_eq!(rollout["target"], "1.1");
    assert_eq!(rollout["canary"]["version"], "1.2");
    assert_eq!(rollout["canary"]["devices"], json!([canary.key]));
    assert_eq!(rollout["canary"]["halted"], false);
    assert_eq!(rollout["canary"]["halted_by_group"], Value::Null);
    assert_eq!(offered(&app, &canary), (json!("1.2"), json!("canary")));
    assert_eq!(offered(&app, &tagged), (json!("1.2"), json!("canary")));
    assert_eq!(offered(&app, &plain), (json!("1.1"), json!("target")));

    // Pin beats the canary; exclusion answers the running version and downloads nothing.
    assert_eq!(ota(&app, &pinned, json!({"pin": "1.0"})).status, 200);
    assert_eq!(offered(&app, &pinned), (json!("1.0"), json!("pin")));
    assert_eq!(ota(&app, &canary, json!({"pin": "1.0"})).status, 200);
    assert_eq!(
        offered(&app, &canary),
        (json!("1.0"), json!("pin")),
        "pin > canary"
    );
    assert_eq!(ota(&app, &excluded, json!({"exclude": true})).status, 200);
    let r = app.get(
        "/api/iot/firmware-version?current_version=0.9",
        Some(&excluded.token),
    );
    assert_eq!(
        r.json(),
        json!({"firmware_version": "0.9", "source": "excluded"})
    );
    assert_eq!(download(&app, &excluded), Err(204));

    // Each device downloads the image of what it is offered.
    assert_eq!(download(&app, &plain), Ok(etag_of(&app, "1.1")));
    assert_eq!(download(&app, &tagged), Ok(etag_of(&app, "1.2")));
    assert_eq!(download(&app, &pinned), Ok(etag_of(&app, "1.0")));

    // An upload that becomes the target changes neither canary nor pinned devices; retention
    // (MAX_FIRMWARES=3) keeps the pinned and the canary versions.
    upload(&app, "1.3", "");
    upload(&app, "1.4", "");
    assert_eq!(offered(&app, &plain), (json!("1.4"), json!("target")));
    assert_eq!(offered(&app, &tagged), (json!("1.2"), json!("canary")));
    assert_eq!(offered(&app, &pinned), (json!("1.0"), json!("pin")));
    let mut kept = app.firmware_versions("m");
    kept.sort();
    assert_eq!(
        kept,
        ["1.0", "1.2", "1.3", "1.4"],
        "1.1 pruned, 1.0 and 1.2 kept"
    );
    assert_eq!(download(&app, &pinned), Ok(etag_of(&app, "1.0")));
    // A version in use cannot be deleted.
    for v in ["1.0", "1.2"] {
        let r = app.delete(&format!("/api/models/m/firmware/{v}"), Some(&app.admin));
        assert_eq!(r.status, 400, "{v}: {}", r.text());
    }

    // `{}` lets a device follow the rollout again.
    assert_eq!(ota(&app, &canary, json!({})).status, 200);
    assert_eq!(offered(&app, &canary), (json!("1.2"), json!("canary")));
    assert_eq!(ota(&app, &excluded, json!({})).status, 200);
    assert_eq!(offered(&app, &excluded), (json!("1.4"), json!("target")));

    // Refusals.
    let bad = [
        ota(&app, &plain, json!({"pin": "9.9"})),
        ota(&app, &plain, json!({"pin": "1.0", "exclude": true})),
        ota(&app, &plain, json!({"pinned": "1.0"})),
        app.put_json(
            "/api/models/m/rollout",
            Some(&app.admin),
            &json!({"target": "9.9"}),
        ),
        app.put_json(
            "/api/models/m/rollout",
            Some(&app.admin),
            &json!({"canary": {"version": "1.2", "devices": ["nosuchkey"]}}),
        ),
        app.put_json(
            "/api/models/m/rollout",
            Some(&app.admin),
            &json!({"canary": {"version": "1.2", "tag": "no spaces"}}),
        ),
        app.patch_json(
            &format!("/api/devices/{}", plain.id),
            Some(&app.admin),
            &json!({"tag": "a/b"}),
        ),
    ];
    for r in bad {
        assert_eq!(r.status, 400, "{}", r.text());
    }
    assert_eq!(
        app.put_json("/api/models/nosuch/rollout", Some(&app.admin), &json!({}))
            .status,
        404
    );
}

#[test]
fn promote_makes_the_canary_version_the_target_and_is_audited() {
    let app = TestApp::start_with(|c| c.workers = 0);
    app.create_model("m");
    let canary = app.create_device("m");
    let other = app.create_device("m");
    upload(&app, "1.0", "");
    upload(&app, "2.0", "?target=false");
    let r = app.post_json(
        "/api/models/m/rollout/promote",
        Some(&app.admin),
        &json!({}),
    );
    assert_eq!(r.status, 400, "no canary yet: {}", r.text());

    put_rollout(
        &app,
        json!({"canary": {"version": "2.0", "devices": [canary.key]}}),
    );
    assert_eq!(offered(&app, &other), (json!("1.0"), json!("target")));
    let r = app.post_json(
        "/api/models/m/rollout/promote",
        Some(&app.admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["target"], "2.0");
    assert_eq!(v["canary"]["version"], Value::Null);
    assert_eq!(
        v["canary"]["devices"],
        json!([canary.key]),
        "the canary group stays"
    );
    assert_eq!(offered(&app, &other), (json!("2.0"), json!("target")));
    assert_eq!(offered(&app, &canary), (json!("2.0"), json!("target")));

    // Who did what, newest first.
    let log = app
        .get("/api/audit?model=m&action=rollout.", Some(&app.admin))
        .json();
    let entries = log["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["rollout.promote", "rollout.canary"]);
    assert_eq!(entries[0]["actor"], "token:test-admin");
    assert_eq!(entries[0]["target"], "model:m");
    assert_eq!(entries[0]["detail"]["version"], "2.0");
    assert_eq!(entries[0]["detail"]["from"], "1.0");
    assert!(entries[0]["at"].is_string());

    // The CLI: a pin and a target change, recorded as `cli`.
    let out = app.cli(&["device", "pin", &other.key, "1.0", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(offered(&app, &other), (json!("1.0"), json!("pin")));
    let out = app.cli(&["rollout", "target", "m", "1.0", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&app.cli(&["rollout", "show", "m", "--json"]).stdout)
        .expect("rollout show --json");
    assert_eq!(shown["target"], "1.0");
    let out = app.cli(&["device", "pin", &other.key, "--clear"]);
    assert!(out.status.success());
    assert_eq!(offered(&app, &other), (json!("1.0"), json!("target")));
    let log = app.get("/api/audit?model=m", Some(&app.admin)).json();
    assert_eq!(log["entries"][0]["actor"], "cli");
    assert_eq!(log["entries"][0]["action"], "device.ota");
    assert_eq!(log["entries"][0]["target"], format!("device:{}", other.key));
    let out = app.cli(&["rollout", "promote", "m"]);
    assert!(!out.status.success(), "nothing to promote");
}

/// A model `m` with the synthetic Xtensa app's bundle as 1.0 (the target) and 2.0 (the canary
/// version, uploaded with target=false), a canary device and a plain device, and a webhook
/// channel (to a closed port) so events are recorded.
fn halting_lab() -> (TestApp, TestDevice, TestDevice, Vec<u8>) {
    let app = TestApp::start();
    app.create_model("m");
    let canary = app.create_device("m");
    let plain = app.create_device("m");
    let elf = decode_support::xtensa_app();
    app.install_bundle("m", "1.0", &elf);
    let r = app.post(
        "/api/pipeline/models/m/firmware?target=false",
        Some(&app.pipeline),
        "application/octet-stream",
        &common::pipeline::bundle("m", "2.0", &elf),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    put_rollout(
        &app,
        json!({"canary": {"version": "2.0", "devices": [canary.key]}}),
    );
    let r = app.post_json(
        "/api/notifications/channels",
        Some(&app.admin),
        &json!({"kind": "webhook", "url": "http://127.0.0.1:9/hook"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let dump = decode_support::xtensa_core(&decode_support::sha256_hex(&elf)[..9]);
    (app, canary, plain, dump)
}

fn crash(app: &TestApp, d: &TestDevice, fw: &str, dump: &[u8]) -> i64 {
    let r = app.upload(d, "esp32", fw, dump);
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["coredump_id"].as_i64().unwrap();
    let v = app.wait_parsed(d.id, id, WAIT);
    v["group_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("dump has no group: {v}"))
}

fn rollout(app: &TestApp) -> Value {
    app.get("/api/models/m/rollout", Some(&app.admin)).json()
}

fn event_types(app: &TestApp) -> Vec<String> {
    app.get("/api/notifications/deliveries", Some(&app.admin))
        .json()["deliveries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| d["event_type"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_new_group_from_a_canary_device_on_the_canary_version_halts_until_resumed() {
    let (app, canary, plain, dump) = halting_lab();
    assert_eq!(offered(&app, &canary), (json!("2.0"), json!("canary")));

    let g = crash(&app, &canary, "2.0", &dump);
    let r = rollout(&app);
    assert_eq!(r["canary"]["halted"], true, "{r}");
    assert_eq!(r["canary"]["halted_by_group"], g);
    assert!(r["canary"]["halted_at"].is_string());
    // Halted: canary devices are offered the model target again.
    assert_eq!(offered(&app, &canary), (json!("1.0"), json!("target")));
    assert_eq!(offered(&app, &plain), (json!("1.0"), json!("target")));
    // The halt went out as an event through the outbox, and into the audit log.
    let types = event_types(&app);
    assert!(types.iter().any(|t| t == "rollout.halted"), "{types:?}");
    assert!(types.iter().any(|t| t == "group.created"), "{types:?}");
    let log = app
        .get("/api/audit?model=m&action=rollout.", Some(&app.admin))
        .json();
    let halt = &log["entries"][0];
    assert_eq!(
        (halt["actor"].clone(), halt["action"].clone()),
        (json!("crashbox"), json!("rollout.halt"))
    );
    assert_eq!(halt["detail"]["group"], g);
    assert_eq!(halt["detail"]["device"], canary.key);
    // Promote is refused while halted.
    let r = app.post_json(
        "/api/models/m/rollout/promote",
        Some(&app.admin),
        &json!({}),
    );
    assert_eq!(r.status, 400, "{}", r.text());

    // Resume: the canary runs again; the same crash again is not new and does not halt.
    let r = app.post_json("/api/models/m/rollout/resume", Some(&app.admin), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["canary"]["halted"], false);
    assert_eq!(r.json()["canary"]["halted_by_group"], Value::Null);
    assert_eq!(offered(&app, &canary), (json!("2.0"), json!("canary")));
    assert_eq!(crash(&app, &canary, "2.0", &dump), g);
    assert_eq!(rollout(&app)["canary"]["halted"], false);
    let log = app
        .get("/api/audit?model=m&action=rollout.", Some(&app.admin))
        .json();
    assert_eq!(log["entries"][0]["action"], "rollout.resume");
    assert_eq!(log["entries"][0]["actor"], "token:test-admin");
}

#[test]
fn only_canary_devices_on_the_canary_version_halt_and_a_regression_does() {
    let (app, canary, plain, dump) = halting_lab();
    // A new group from a device that is not in the canary: no halt.
    let g = crash(&app, &plain, "2.0", &dump);
    assert_eq!(rollout(&app)["canary"]["halted"], false);
    // A canary device on the target version joins that group: not new, no halt.
    assert_eq!(crash(&app, &canary, "1.0", &dump), g);
    assert_eq!(rollout(&app)["canary"]["halted"], false);

    // Resolved in 1.0, the crash comes back from the canary on 2.0: a regression halts.
    let r = app.post_json(
        &format!("/api/groups/{g}/resolve"),
        Some(&app.admin),
        &json!({"version": "1.0"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(crash(&app, &canary, "2.0", &dump), g);
    let r = rollout(&app);
    assert_eq!(r["canary"]["halted"], true, "{r}");
    assert_eq!(r["canary"]["halted_by_group"], g);
    let log = app
        .get("/api/audit?model=m&action=rollout.", Some(&app.admin))
        .json();
    assert_eq!(log["entries"][0]["detail"]["why"], "crash group regressed");
}

#[test]
fn rollout_routes_refuse_other_principals() {
    let app = TestApp::start_with(|c| c.workers = 0);
    app.create_model("m");
    let d = app.create_device("m");
    // Device routes refuse admin and pipeline tokens.
    for token in [&app.admin, &app.pipeline] {
        assert_eq!(
            app.get("/api/iot/firmware-version", Some(token)).status,
            401
        );
    }
    // Admin routes refuse devices (unknown API token) and pipelines (wrong role).
    let routes = [
        ("GET", "/api/models/m/rollout".to_string()),
        ("PUT", "/api/models/m/rollout".to_string()),
        ("POST", "/api/models/m/rollout/promote".to_string()),
        ("POST", "/api/models/m/rollout/resume".to_string()),
        ("GET", "/api/models/m/releases".to_string()),
        ("PUT", format!("/api/devices/{}/ota", d.id)),
        ("PATCH", format!("/api/devices/{}", d.id)),
        ("GET", "/api/audit".to_string()),
    ];
    for (method, path) in &routes {
        for (token, want) in [
            (Some(d.token.as_str()), 401),
            (Some(app.pipeline.as_str()), 403),
            (None, 401),
        ] {
            let r = match *method {
                "GET" => app.get(path, token),
                "PUT" => app.put_json(path, token, &json!({"pin": "1.0"})),
                "PATCH" => app.patch_json(path, token, &json!({"tag": "x"})),
                _ => app.post(path, token, "application/json", b"{}"),
            };
            assert_eq!(r.status, want, "{method} {path}: {}", r.text());
        }
    }
    // Nothing changed, nothing was recorded (after the setup's tokens, model and device).
    assert_eq!(
        app.get("/api/audit?action=rollout.", Some(&app.admin))
            .json()["entries"],
        json!([])
    );
    assert_eq!(
        app.get("/api/audit?action=device.ota", Some(&app.admin))
            .json()["entries"],
        json!([])
    );
    assert_eq!(
        app.get("/api/audit?action=device.tag", Some(&app.admin))
            .json()["entries"],
        json!([])
    );
}
