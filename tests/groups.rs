//! Crash groups over HTTP with real ESP-IDF dumps (the reference corpus; skipped with a message
//! without it, failing under CI=true): one group per bug across devices and versions, another
//! for another crash, resolve / regress / mute / reopen, merge, a late ELF, lifetime counts
//! after deletes, and the CLI.
mod common;
mod decode_support;

use std::time::Duration;

use common::{TestApp, TestDevice, corpus_case, corpus_device_upload};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// A real dump and the app ELF it was made with.
struct Crash {
    chip: &'static str,
    dump: Vec<u8>,
    elf: Vec<u8>,
}

fn crash(case: &str, chip: &'static str) -> Option<Crash> {
    let dir = corpus_case(case)?;
    Some(Crash {
        chip,
        dump: corpus_device_upload(case)?,
        elf: std::fs::read(dir.join("app.elf")).ok()?,
    })
}

/// The corpus's abort() in `fail_once` (RISC-V) and, as a different crash site, the
/// synthetic Xtensa fault in `func_a` the decoder tests build; `None` (skipped) without the
/// corpus.
fn crashes() -> Option<(Crash, Crash)> {
    let app = decode_support::xtensa_app();
    let other = Crash {
        chip: "esp32",
        dump: decode_support::xtensa_core(&decode_support::sha256_hex(&app)[..9]),
        elf: app,
    };
    Some((crash("esp32c3", "esp32c3")?, other))
}

fn lab() -> (TestApp, TestDevice, TestDevice) {
    let app = TestApp::start();
    app.create_model("m");
    let a = app.create_device("m");
    let b = app.create_device("m");
    (app, a, b)
}

/// Uploads `crash` from `dev` as firmware `fw` and waits for its parse; the dump's detail.
fn send(app: &TestApp, dev: &TestDevice, fw: &str, crash: &Crash) -> Value {
    let r = app.upload(dev, crash.chip, fw, &crash.dump);
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["coredump_id"].as_i64().expect("coredump_id");
    app.wait_parsed(dev.id, id, WAIT)
}

fn group_of(d: &Value) -> i64 {
    d["group_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("dump has no group: {d}"))
}

fn group(app: &TestApp, id: i64) -> Value {
    let r = app.get(&format!("/api/groups/{id}"), Some(&app.admin));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn act(app: &TestApp, id: i64, action: &str, body: &Value) -> Value {
    let r = app.post_json(
        &format!("/api/groups/{id}/{action}"),
        Some(&app.admin),
        body,
    );
    assert_eq!(r.status, 200, "{action}: {}", r.text());
    r.json()
}

#[test]
fn the_same_crash_from_two_devices_and_versions_is_one_group() {
    let Some((c3, xt)) = crashes() else { return };
    let (app, a, b) = lab();
    app.install_bundle("m", "1.0", &c3.elf);
    app.install_bundle("m", "1.1", &c3.elf);
    app.install_bundle("m", "2.0", &xt.elf);

    let first = send(&app, &a, "1.0", &c3);
    let second = send(&app, &b, "1.1", &c3);
    assert_eq!(first["parse_status"], "PARSED", "{first}");
    let g = group_of(&first);
    assert_eq!(group_of(&second), g, "same bug, other device and version");

    let d = group(&app, g);
    assert_eq!(d["count"], 2);
    assert_eq!(d["device_count"], 2);
    assert_eq!(d["devices"].as_array().map(Vec::len), Some(2));
    assert_eq!(d["first_version"], "1.0");
    assert_eq!(d["last_version"], "1.1");
    assert_eq!(d["status"], "open");
    assert_eq!(d["regressed"], false);
    assert_eq!(d["model"], "m");
    assert!(d["signature"].as_str().unwrap().starts_with("v1:"), "{d}");
    assert!(!d["title"].as_str().unwrap().is_empty());
    let versions: Vec<(String, i64)> = d["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().into(),
                v["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert!(versions.iter().all(|(_, n)| *n == 1), "{versions:?}");
    assert_eq!(d["latest_coredump_id"], second["id"]);

    // Another crash site is another group.
    let other = send(&app, &a, "2.0", &xt);
    assert_eq!(other["parse_status"], "PARSED", "{other}");
    assert_ne!(group_of(&other), g);

    let list = app.get("/api/groups?model=m", Some(&app.admin)).json();
    assert_eq!(list["count"], 2, "{list}");
    let by_count = app.get("/api/groups?sort=count", Some(&app.admin)).json();
    assert_eq!(by_count["groups"][0]["id"], g, "the bigger group first");
    assert_eq!(
        app.get("/api/groups?status=resolved", Some(&app.admin))
            .json()["count"],
        0
    );
    assert_eq!(
        app.get("/api/groups?sort=size", Some(&app.admin)).status,
        400
    );
    assert_eq!(
        app.get("/api/groups?model=nosuch", Some(&app.admin)).status,
        404
    );
}

#[test]
fn resolve_regress_mute_and_reopen() {
    let Some((c3, _)) = crashes() else { return };
    let (app, a, _) = lab();
    for v in ["1.0", "1.1", "1.2", "1.3"] {
        app.install_bundle("m", v, &c3.elf);
    }
    let g = group_of(&send(&app, &a, "1.1", &c3));

    // Without a version, the model's current firmware version (the last upload, 1.3).
    let r = act(&app, g, "resolve", &json!({}));
    assert_eq!(
        (r["status"].clone(), r["resolved_in_version"].clone()),
        (json!("resolved"), json!("1.3"))
    );
    let r = act(&app, g, "resolve", &json!({"version": "1.1"}));
    assert_eq!(r["resolved_in_version"], "1.1");

    // An older (or the same) version does not reopen it.
    send(&app, &a, "1.0", &c3);
    send(&app, &a, "1.1", &c3);
    let d = group(&app, g);
    assert_eq!(
        (d["status"].clone(), d["count"].clone()),
        (json!("resolved"), json!(3))
    );

    // A newer one does, and says it regressed.
    send(&app, &a, "1.2", &c3);
    let d = group(&app, g);
    assert_eq!(d["status"], "open", "{d}");
    assert_eq!(d["regressed"], true);
    assert_eq!(d["resolved_in_version"], "1.1", "the fix it broke is kept");

    // Muted groups never reopen.
    act(&app, g, "mute", &json!({}));
    send(&app, &a, "1.3", &c3);
    let d = group(&app, g);
    assert_eq!(
        (d["status"].clone(), d["count"].clone()),
        (json!("muted"), json!(5))
    );

    let r = act(&app, g, "reopen", &json!({}));
    assert_eq!(
        (r["status"].clone(), r["regressed"].clone()),
        (json!("open"), json!(false))
    );

    assert_eq!(
        app.post_json("/api/groups/999/mute", Some(&app.admin), &json!({}))
            .status,
        404
    );
}

#[test]
fn resolving_without_any_firmware_version_is_refused() {
    let Some((c3, _)) = crashes() else { return };
    let (app, a, b) = lab();
    app.install_bundle("m", "1.0", &c3.elf);
    let g = group_of(&send(&app, &a, "1.0", &c3));
    // The devices go, then the only firmware version: the model has no current version.
    for dev in [&a, &b] {
        let r = app.delete(&format!("/api/devices/{}", dev.id), Some(&app.admin));
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let r = app.delete("/api/models/m/firmware/1.0", Some(&app.admin));
    assert_eq!(r.status, 204, "{}", r.text());
    let r = app.post_json(
        &format!("/api/groups/{g}/resolve"),
        Some(&app.admin),
        &json!({}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.error().contains("no firmware version"), "{}", r.error());
    let r = app.post_json(
        &format!("/api/groups/{g}/resolve"),
        Some(&app.admin),
        &json!({"version": "x".repeat(65)}),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn merge_moves_dumps_counts_and_future_dumps() {
    let Some((c3, xt)) = crashes() else { return };
    let (app, a, b) = lab();
    app.install_bundle("m", "1.0", &c3.elf);
    app.install_bundle("m", "2.0", &xt.elf);
    let gc = group_of(&send(&app, &a, "1.0", &c3));
    let gx = group_of(&send(&app, &b, "2.0", &xt));

    assert_eq!(
        app.post_json(
            &format!("/api/groups/{gc}/merge"),
            Some(&app.admin),
            &json!({"into": gc})
        )
        .status,
        400
    );
    let merged = act(&app, gc, "merge", &json!({"into": gx}));
    assert_eq!(
        (merged["id"].clone(), merged["count"].clone()),
        (json!(gx), json!(2))
    );
    assert_eq!(merged["devices"], 2);
    assert_eq!(
        app.get(&format!("/api/groups/{gc}"), Some(&app.admin))
            .status,
        404
    );
    // The merged group's signature now leads to the group it was merged into.
    let again = send(&app, &a, "1.0", &c3);
    assert_eq!(group_of(&again), gx);
    assert_eq!(group(&app, gx)["count"], 3);
}

#[test]
fn a_dump_is_grouped_once_its_elf_arrives() {
    let Some((c3, _)) = crashes() else { return };
    let (app, a, _) = lab();
    let d = send(&app, &a, "3.0", &c3);
    assert_eq!(d["parse_status"], "ERROR");
    assert!(d["group_id"].is_null(), "no symbols, no group: {d}");
    assert_eq!(app.get("/api/groups", Some(&app.admin)).json()["count"], 0);

    app.install_bundle("m", "3.0", &c3.elf);
    let id = d["id"].as_i64().unwrap();
    let mut last = Value::Null;
    common::wait_for("the dump to be grouped", WAIT, || {
        last = app.coredump(a.id, id);
        last["group_id"].is_i64()
    });
    assert_eq!(last["parse_status"], "PARSED");
    assert_eq!(group(&app, group_of(&last))["count"], 1);
}

#[test]
fn counts_are_lifetime_and_stored_dumps_follow_deletes() {
    let Some((c3, _)) = crashes() else { return };
    let (app, a, b) = lab();
    app.install_bundle("m", "1.0", &c3.elf);
    let first = send(&app, &a, "1.0", &c3);
    send(&app, &b, "1.0", &c3);
    let g = group_of(&first);
    assert_eq!(group(&app, g)["stored_dumps"], 2);

    let id = first["id"].as_i64().unwrap();
    let r = app.delete(
        &format!("/api/devices/{}/coredumps/{id}", a.id),
        Some(&app.admin),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let r = app.delete(&format!("/api/devices/{}", b.id), Some(&app.admin));
    assert_eq!(r.status, 204, "{}", r.text());
    let d = group(&app, g);
    assert_eq!(d["count"], 2, "lifetime: {d}");
    assert_eq!(d["device_count"], 2, "lifetime: {d}");
    assert_eq!(d["stored_dumps"], 0, "{d}");
    assert!(d["latest_coredump_id"].is_null());
}

#[test]
fn the_cli_lists_resolves_and_rebuilds() {
    let Some((c3, _)) = crashes() else { return };
    let (app, a, _) = lab();
    app.install_bundle("m", "1.0", &c3.elf);
    let g = group_of(&send(&app, &a, "1.0", &c3));

    let out = app.cli(&["group", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["groups"][0]["id"], g);

    let out = app.cli(&["group", "resolve", &g.to_string(), "--version", "1.0"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(group(&app, g)["status"], "resolved");

    let out = app.cli(&["group", "rebuild", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            r["dumps"].clone(),
            r["grouped"].clone(),
            r["moved"].clone(),
            r["created"].clone()
        ),
        (json!(1), json!(1), json!(0), json!(0)),
        "the same algorithm regroups nothing"
    );
    assert_eq!(group(&app, g)["count"], 1, "a rebuild does not count twice");

    let out = app.cli(&["group", "show", "999"]);
    assert!(!out.status.success());
}

#[test]
fn a_dump_only_a_sidecar_could_decode_is_grouped_from_its_report_text() {
    use common::pipeline::{FakeSidecar, Reply};
    let Some(dir) = corpus_case("esp32c3") else {
        return;
    };
    let Some((c3, _)) = crashes() else { return };
    let report = std::fs::read_to_string(dir.join("expected_output")).unwrap();
    // The bundle's "ELF" is no ELF: the built-in decoder cannot symbolize, the sidecar's gdb
    // text is all there is.
    let sidecar = FakeSidecar::start(vec![]);
    sidecar.set_default(Reply::Json(200, json!({ "output": report }).to_string()));
    let app = TestApp::start_with(|c| sidecar.configure(c, Duration::from_secs(10)));
    app.create_model("m");
    app.install_bundle("m", "1.0", b"not an ELF");
    let dev = app.create_device("m");
    let d = send(&app, &dev, "1.0", &c3);
    assert_eq!(d["parse_status"], "PARSED", "{d}");
    let g = group(&app, group_of(&d));
    assert!(g["title"].as_str().unwrap().contains("fail_once"), "{g}");

    // The same crash decoded in-process elsewhere lands in the same group.
    let other = TestApp::start();
    other.create_model("m");
    other.install_bundle("m", "1.0", &c3.elf);
    let dev = other.create_device("m");
    let d2 = send(&other, &dev, "1.0", &c3);
    let g2 = group(&other, group_of(&d2));
    assert_eq!(g["signature"], g2["signature"]);
}

/// The Problems page reads a group's device count from a column kept with the tallies; it must
/// equal the devices in the tallies after counting, taking dumps back out and merging.
#[test]
fn kept_device_counts_match_the_tallies() {
    use crashbox::db::DbError;
    use crashbox::db::groups::{self, Counted, NewGroup};
    use crashbox::ids::{DeviceId, GroupId, Timestamp};

    let app = TestApp::start_with(|c| c.workers = 0);
    app.create_model("m");
    let (a, b, c) = (
        app.create_device("m"),
        app.create_device("m"),
        app.create_device("m"),
    );
    let db = &app.state().db;
    let model = crashbox::db::models::find_by_code(&db.conn().unwrap(), "m")
        .unwrap()
        .unwrap()
        .id;
    let seen = Timestamp::now();
    fn dump(d: &TestDevice, seen: Timestamp) -> Counted<'_> {
        Counted {
            device: DeviceId(d.id),
            device_key: d.key.as_str(),
            version: "1.0",
            seen,
        }
    }
    let new = |sig: &'static str| NewGroup {
        model,
        signature: sig,
        title: "t",
        reason: "abort",
        frames: &[],
        seen,
        version: "1.0",
    };
    let check = |g: GroupId, want: i64| {
        let conn = db.conn().unwrap();
        let kept = groups::find(&conn, g).unwrap().unwrap().devices;
        let tallied = groups::devices(&conn, g).unwrap().len() as i64;
        assert_eq!((kept, tallied), (want, want), "group {g}");
    };
    let (g1, g2) = db
        .write(|tx| {
            let g1 = groups::create(tx, &new("v1:one"))?;
            let g2 = groups::create(tx, &new("v1:two"))?;
            for d in [&a, &a, &b] {
                groups::count_dump(tx, g1, &dump(d, seen))?;
            }
            for d in [&b, &c] {
                groups::count_dump(tx, g2, &dump(d, seen))?;
            }
            Ok::<_, DbError>((g1, g2))
        })
        .unwrap();
    check(g1, 2);
    check(g2, 2);
    // One of a's two dumps leaves: a still has one. b's only dump leaves: b is gone.
    db.write(|tx| groups::uncount_dump(tx, g1, &dump(&a, seen)))
        .unwrap();
    check(g1, 2);
    db.write(|tx| groups::uncount_dump(tx, g1, &dump(&b, seen)))
        .unwrap();
    check(g1, 1);
    // Merge: a (g1) and b, c (g2) → 3 distinct devices.
    db.write(|tx| groups::merge(tx, g2, g1)).unwrap();
    check(g1, 3);
}
