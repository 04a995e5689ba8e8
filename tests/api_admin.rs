//! Admin JSON API: devices, models, tokens and coredumps, with the original system's status
//! codes and error texts.
mod common;

use common::TestApp;
use serde_json::json;

fn seeded() -> (TestApp, common::TestDevice) {
    let app = TestApp::start();
    app.create_model("tempsensor");
    let dev = app.create_device("tempsensor");
    (app, dev)
}

#[test]
fn coredump_list_detail_and_404s() {
    let (app, dev) = seeded();
    let other = app.create_device("tempsensor");
    let empty = app.get(
        &format!("/api/devices/{}/coredumps", dev.id),
        Some(&app.admin),
    );
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json(), json!({"count": 0, "coredumps": []}));

    let first = app.upload(&dev, "esp32", "1.0.0", b"first").json()["coredump_id"]
        .as_i64()
        .unwrap();
    let second = app.upload(&dev, "esp32", "1.0.1", b"second").json()["coredump_id"]
        .as_i64()
        .unwrap();
    let list = app
        .get(
            &format!("/api/devices/{}/coredumps", dev.id),
            Some(&app.admin),
        )
        .json();
    assert_eq!(list["count"], 2);
    let items = list["coredumps"].as_array().unwrap();
    assert_eq!(items[0]["id"], second, "newest first");
    assert_eq!(items[1]["id"], first);
    for item in items {
        assert!(
            item.get("parsed_output").is_none(),
            "summaries carry no output"
        );
        for key in [
            "id",
            "filename",
            "chip",
            "parse_status",
            "firmware_version",
            "size",
            "uploaded_at",
            "device_id",
        ] {
            assert!(item.get(key).is_some(), "missing {key}");
        }
    }

    let detail = app.get(
        &format!("/api/devices/{}/coredumps/{first}", dev.id),
        Some(&app.admin),
    );
    assert_eq!(detail.status, 200);
    let d = detail.json();
    assert_eq!(d["firmware_version"], "1.0.0");
    assert!(
        d.get("parsed_output").is_some()
            && d.get("updated_at").is_some()
            && d.get("analysis").is_some()
    );

    // Through another device: 404 with upstream's text.
    let r = app.get(
        &format!("/api/devices/{}/coredumps/{first}", other.id),
        Some(&app.admin),
    );
    assert_eq!(
        (r.status, r.error()),
        (404, format!("Coredump {first} was not found"))
    );
    assert_eq!(r.json()["code"], "RECORD_NOT_FOUND");
    assert_eq!(
        app.get(
            &format!("/api/devices/{}/coredumps/{first}/download", other.id),
            Some(&app.admin)
        )
        .status,
        404
    );
    assert_eq!(
        app.delete(
            &format!("/api/devices/{}/coredumps/{first}", other.id),
            Some(&app.admin)
        )
        .status,
        404
    );
    // Nonexistent ids, unknown device, non-numeric segments.
    assert_eq!(
        app.get(
            &format!("/api/devices/{}/coredumps/99999", dev.id),
            Some(&app.admin)
        )
        .status,
        404
    );
    let r = app.get("/api/devices/4242/coredumps", Some(&app.admin));
    assert_eq!(
        (r.status, r.error().as_str()),
        (404, "Device 4242 was not found")
    );
    assert_eq!(
        app.get("/api/devices/abc/coredumps", Some(&app.admin))
            .status,
        404
    );
}

#[test]
fn download_returns_exact_bytes_and_404_when_file_is_gone() {
    let (app, dev) = seeded();
    let body: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let id = app.upload(&dev, "esp32", "1", &body).json()["coredump_id"]
        .as_i64()
        .unwrap();
    let r = app.get(
        &format!("/api/devices/{}/coredumps/{id}/download", dev.id),
        Some(&app.admin),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("coredump_")
    );

    for f in app.dump_files(&dev.key) {
        std::fs::remove_file(f).unwrap();
    }
    let r = app.get(
        &format!("/api/devices/{}/coredumps/{id}/download", dev.id),
        Some(&app.admin),
    );
    assert_eq!(r.status, 404);
    assert!(
        r.error().starts_with("Coredump file coredump_"),
        "{}",
        r.error()
    );
}

#[test]
fn delete_one_and_delete_all() {
    let (app, dev) = seeded();
    let a = app.upload(&dev, "esp32", "1", b"a").json()["coredump_id"]
        .as_i64()
        .unwrap();
    app.upload(&dev, "esp32", "1", b"b");
    app.upload(&dev, "esp32", "1", b"c");
    assert_eq!(app.dump_files(&dev.key).len(), 3);

    let r = app.delete(
        &format!("/api/devices/{}/coredumps/{a}", dev.id),
        Some(&app.admin),
    );
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(app.dump_files(&dev.key).len(), 2);
    assert_eq!(
        app.get(
            &format!("/api/devices/{}/coredumps/{a}", dev.id),
            Some(&app.admin)
        )
        .status,
        404
    );
    assert_eq!(
        app.delete(
            &format!("/api/devices/{}/coredumps/{a}", dev.id),
            Some(&app.admin)
        )
        .status,
        404
    );

    // Deleting a row whose file is already gone still works.
    let list = app
        .get(
            &format!("/api/devices/{}/coredumps", dev.id),
            Some(&app.admin),
        )
        .json();
    let b = list["coredumps"][0]["id"].as_i64().unwrap();
    std::fs::remove_file(&app.dump_files(&dev.key)[1]).unwrap();
    assert_eq!(
        app.delete(
            &format!("/api/devices/{}/coredumps/{b}", dev.id),
            Some(&app.admin)
        )
        .status,
        204
    );

    assert_eq!(
        app.delete(
            &format!("/api/devices/{}/coredumps", dev.id),
            Some(&app.admin)
        )
        .status,
        204
    );
    assert!(app.dump_files(&dev.key).is_empty());
    assert_eq!(
        app.get(
            &format!("/api/devices/{}/coredumps", dev.id),
            Some(&app.admin)
        )
        .json()["count"],
        0
    );
    // Idempotent; unknown device 404.
    assert_eq!(
        app.delete(
            &format!("/api/devices/{}/coredumps", dev.id),
            Some(&app.admin)
        )
        .status,
        204
    );
    assert_eq!(
        app.delete("/api/devices/999/coredumps", Some(&app.admin))
            .status,
        404
    );
}

#[test]
fn device_list_carries_counts_and_last_coredump_at() {
    let (app, dev) = seeded();
    let quiet = app.create_device("tempsensor");
    app.upload(&dev, "esp32", "2.0.0", b"x");
    let v = app.get("/api/devices", Some(&app.admin)).json();
    assert_eq!(v["count"], 2);
    let items = v["devices"].as_array().unwrap();
    let find = |key: &str| items.iter().find(|d| d["key"] == key).unwrap().clone();
    let busy = find(&dev.key);
    assert_eq!(busy["coredump_count"], 1);
    assert_eq!(busy["model"], "tempsensor");
    assert!(busy["last_coredump_at"].as_str().unwrap().ends_with('Z'));
    assert!(find(&quiet.key)["last_coredump_at"].is_null());
    // Search by key.
    let v = app
        .get(
            &format!("/api/devices?search={}", quiet.key),
            Some(&app.admin),
        )
        .json();
    assert_eq!(v["count"], 1);
    assert_eq!(v["devices"][0]["key"], quiet.key);
}

#[test]
fn deleting_a_device_removes_its_rows_and_files() {
    let (app, dev) = seeded();
    app.upload(&dev, "esp32", "1", b"x");
    app.upload(&dev, "esp32", "1", b"y");
    let r = app.get(&format!("/api/devices/{}", dev.id), Some(&app.admin));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["coredump_count"], 2);
    assert!(
        r.json().get("token").is_none(),
        "the token is never shown again"
    );
    assert_eq!(
        app.delete(&format!("/api/devices/{}", dev.id), Some(&app.admin))
            .status,
        204
    );
    assert!(
        !app.config.coredumps_dir.join(&dev.key).exists(),
        "dump folder removed"
    );
    assert_eq!(
        app.get(&format!("/api/devices/{}", dev.id), Some(&app.admin))
            .status,
        404
    );
    assert_eq!(
        app.upload(&dev, "esp32", "1", b"z").status,
        401,
        "a deleted device's token is dead"
    );
}

#[test]
fn models_crud_and_errors() {
    let app = TestApp::start();
    let r = app.post_json(
        "/api/models",
        Some(&app.admin),
        &json!({"code": "Bad-Code", "name": "x"}),
    );
    assert_eq!(
        (r.status, r.error().as_str()),
        (
            400,
            "Model code must contain only lowercase letters, numbers, and underscores"
        )
    );
    app.create_model("lamp");
    let r = app.post_json(
        "/api/models",
        Some(&app.admin),
        &json!({"code": "lamp", "name": "again"}),
    );
    assert_eq!(
        (r.status, r.error().as_str()),
        (409, "DeviceModel for lamp already exists")
    );
    assert_eq!(r.json()["code"], "RECORD_EXISTS");
    let r = app.post_json("/api/models", Some(&app.admin), &json!({"name": "no code"}));
    assert_eq!(r.status, 400);

    let d = app.create_device("lamp");
    let r = app.delete("/api/models/lamp", Some(&app.admin));
    assert_eq!(
        (r.status, r.error().as_str()),
        (
            400,
            "Cannot delete device model because model has 1 associated device(s)"
        )
    );
    assert_eq!(r.json()["code"], "INVALID_OPERATION");
    let m = app.get("/api/models/lamp", Some(&app.admin)).json();
    assert_eq!(m["device_count"], 1);
    assert!(m["firmware_version"].is_null());
    assert_eq!(app.get("/api/models", Some(&app.admin)).json()["count"], 1);

    assert_eq!(
        app.delete(&format!("/api/devices/{}", d.id), Some(&app.admin))
            .status,
        204
    );
    assert_eq!(app.delete("/api/models/lamp", Some(&app.admin)).status, 204);
    let r = app.get("/api/models/lamp", Some(&app.admin));
    assert_eq!(
        (r.status, r.error().as_str()),
        (404, "DeviceModel lamp was not found")
    );
    // Unknown model for a new device.
    let r = app.post_json("/api/devices", Some(&app.admin), &json!({"model": "lamp"}));
    assert_eq!(r.status, 404);
}

#[test]
fn api_tokens_create_list_revoke() {
    let app = TestApp::start();
    let r = app.post_json(
        "/api/tokens",
        Some(&app.admin),
        &json!({"name": "ci", "role": "pipeline"}),
    );
    assert_eq!(r.status, 201);
    let created = r.json();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 36);
    let list = app.get("/api/tokens", Some(&app.admin)).json();
    let row = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap()
        .clone();
    assert!(
        row.get("token").is_none() && row.get("token_hash").is_none(),
        "secrets never listed"
    );
    assert_eq!(row["role"], "pipeline");
    // The new pipeline token is not an admin.
    assert_eq!(app.get("/api/tokens", Some(&token)).status, 403);
    let r = app.delete(&format!("/api/tokens/{}", created["id"]), Some(&app.admin));
    assert_eq!(r.status, 204);
    assert_eq!(
        app.get("/api/tokens", Some(&token)).status,
        401,
        "revoked tokens are unknown"
    );
    let r = app.post_json(
        "/api/tokens",
        Some(&app.admin),
        &json!({"name": "x", "role": "root"}),
    );
    assert_eq!(r.status, 400);
}

/// Every admin route answers 401 without credentials or with a device token, and 403 with a
/// pipeline token.
#[test]
fn admin_routes_reject_other_principals() {
    let (app, dev) = seeded();
    let id = app.upload(&dev, "esp32", "1", b"x").json()["coredump_id"]
        .as_i64()
        .unwrap();
    let d = dev.id;
    let routes: Vec<(&str, String)> = vec![
        ("GET", "/api/devices".into()),
        ("POST", "/api/devices".into()),
        ("GET", format!("/api/devices/{d}")),
        ("DELETE", format!("/api/devices/{d}")),
        ("POST", format!("/api/devices/{d}/token")),
        ("GET", format!("/api/devices/{d}/coredumps")),
        ("DELETE", format!("/api/devices/{d}/coredumps")),
        ("GET", format!("/api/devices/{d}/coredumps/{id}")),
        ("DELETE", format!("/api/devices/{d}/coredumps/{id}")),
        ("GET", format!("/api/devices/{d}/coredumps/{id}/download")),
        ("GET", "/api/models".into()),
        ("POST", "/api/models".into()),
        ("GET", "/api/models/tempsensor".into()),
        ("DELETE", "/api/models/tempsensor".into()),
        ("GET", "/api/tokens".into()),
        ("POST", "/api/tokens".into()),
        ("DELETE", "/api/tokens/1".into()),
        ("GET", "/api/notifications/channels".into()),
        ("GET", "/api/notifications/deliveries".into()),
        ("GET", "/api/groups".into()),
        ("GET", "/api/groups/1".into()),
        ("POST", "/api/groups/1/resolve".into()),
        ("POST", "/api/groups/1/mute".into()),
        ("POST", "/api/groups/1/reopen".into()),
        ("POST", "/api/groups/1/merge".into()),
        ("POST", "/api/notifications/channels".into()),
        ("PUT", "/api/notifications/channels/1".into()),
        ("DELETE", "/api/notifications/channels/1".into()),
        ("POST", "/api/notifications/channels/1/test".into()),
        ("PATCH", format!("/api/devices/{d}")),
        ("PUT", format!("/api/devices/{d}/ota")),
        ("GET", "/api/models/tempsensor/releases".into()),
        ("GET", "/api/models/tempsensor/releases/1".into()),
        ("GET", "/api/models/tempsensor/rollout".into()),
        ("PUT", "/api/models/tempsensor/rollout".into()),
        ("POST", "/api/models/tempsensor/rollout/promote".into()),
        ("POST", "/api/models/tempsensor/rollout/resume".into()),
        ("GET", "/api/audit".into()),
    ];
    for (method, path) in &routes {
        for (who, token, want) in [
            ("nobody", None, 401),
            ("device", Some(dev.token.as_str()), 401),
            ("pipeline", Some(app.pipeline.as_str()), 403),
        ] {
            let r = match *method {
                "GET" => app.get(path, token),
                "DELETE" => app.delete(path, token),
                "PUT" => app.put_json(path, token, &json!({})),
                "PATCH" => app.patch_json(path, token, &json!({})),
                _ => app.post(path, token, "application/json", b"{}"),
            };
            assert_eq!(r.status, want, "{who} on {method} {path}: {}", r.text());
        }
    }
    // Nothing was changed by the rejected calls.
    assert_eq!(
        app.get(&format!("/api/devices/{d}/coredumps"), Some(&app.admin))
            .json()["count"],
        1
    );
}

#[test]
fn session_cookie_needs_csrf_for_changes() {
    let (app, dev) = seeded();
    app.upload(&dev, "esp32", "1", b"x");
    // A user past the first-run password change (a first-run session may use nothing but the
    // password page), and a session made the way the login page makes it.
    crashbox::fleet::users::set_password(
        &app.state().db,
        &app.config.data_dir,
        "admin",
        "a long password",
        &crashbox::audit::Actor::Cli,
    )
    .unwrap();
    let cookie = "sessionvalue-for-test";
    let conn = app.state().db.conn().unwrap();
    crashbox::db::sessions::insert(
        &conn,
        &crashbox::auth::tokens::hash(cookie),
        crashbox::ids::UserId(1),
        "csrf123",
        "2999-01-01T00:00:00.000000Z",
    )
    .unwrap();
    let c = format!("crashbox_session={cookie}");
    let r = app.get_with(
        &format!("/api/devices/{}/coredumps", dev.id),
        None,
        &[("Cookie", &c)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let agent = common::agent();
    let del = |csrf: Option<&str>| {
        let mut req = agent
            .delete(app.url(&format!("/api/devices/{}/coredumps", dev.id)))
            .header("Cookie", &c);
        if let Some(t) = csrf {
            req = req.header("X-CSRF-Token", t);
        }
        req.call().unwrap().status().as_u16()
    };
    assert_eq!(del(None), 403);
    assert_eq!(del(Some("wrong")), 403);
    assert_eq!(
        app.get(
            &format!("/api/devices/{}/coredumps", dev.id),
            Some(&app.admin)
        )
        .json()["count"],
        1
    );
    assert_eq!(del(Some("csrf123")), 204);
}

/// Issue 14: the answers docs/api.md documents for each kind of token on each kind of route.
#[test]
fn documented_token_answers() {
    let (app, dev) = seeded();
    let answer = |path: &str, token: Option<&str>| {
        let r = app.get(path, token);
        (r.status, r.error())
    };
    let admin = "/api/devices";
    let pipeline = "/api/pipeline/models/m/firmware-version";
    let device = "/api/iot/firmware-version";
    assert_eq!(
        answer(device, None),
        (401, "No valid token provided".into())
    );
    assert_eq!(
        answer(pipeline, None),
        (401, "No valid token provided".into())
    );
    assert_eq!(
        answer(admin, None),
        (401, "Authentication is required".into())
    );
    assert_eq!(
        answer(device, Some("cbd_nope")),
        (401, "Invalid device token".into())
    );
    assert_eq!(
        answer(admin, Some("cba_nope")),
        (401, "Invalid API token".into())
    );
    assert_eq!(
        answer(pipeline, Some("cba_nope")),
        (401, "Invalid API token".into())
    );
    // A device token is not an API token, nor an API token a device token: 401.
    assert_eq!(
        answer(admin, Some(&dev.token)),
        (401, "Invalid API token".into())
    );
    assert_eq!(
        answer(device, Some(&app.admin)),
        (401, "Invalid device token".into())
    );
    // An API token of the other role: 403.
    assert_eq!(
        answer(admin, Some(&app.pipeline)),
        (
            403,
            "Insufficient permissions - requires one of: admin".into()
        )
    );
    assert_eq!(
        answer(pipeline, Some(&app.admin)),
        (
            403,
            "Insufficient permissions - requires one of: pipeline".into()
        )
    );
    // firmware-version needs the device token and answers with it.
    assert_ne!(app.get(device, Some(&dev.token)).status, 401);
}
