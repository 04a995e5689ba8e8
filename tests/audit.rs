//! The audit log (issue 14): every admin action — from the API (a token), the dashboard (a
//! user), CI (a pipeline token) and the command line — is recorded with who, what and on what,
//! in the same transaction as the change (a refused change records nothing); no secret reaches
//! it; the API and the dashboard page filter and page it; old entries are pruned.
mod common;
mod decode_support;

use std::time::Duration;

use common::browser::{Browser, set_admin_password};
use common::{TestApp, wait_for};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// The log through the API, oldest first, as (actor, action, target).
fn log(app: &TestApp, query: &str) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = entries(app, query)
        .into_iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("actor"), s("action"), s("target"))
        })
        .collect();
    rows.reverse();
    rows
}

fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/audit{query}"), Some(&app.admin));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["entries"].as_array().cloned().unwrap_or_default()
}

fn t(actor: &str, action: &str, target: &str) -> (String, String, String) {
    (actor.into(), action.into(), target.into())
}

#[test]
fn every_admin_action_is_recorded_with_who_did_it_and_no_secret() {
    let app = TestApp::start();
    set_admin_password(&app);
    let admin = "token:test-admin";

    // The admin API: a model, a device, its token, a channel (whose URL and secret are secret).
    app.create_model("m");
    let dev = app.create_device("m");
    let rotated = app.post_json(
        &format!("/api/devices/{}/token", dev.id),
        Some(&app.admin),
        &json!({}),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let old_device_token = dev.token.clone();
    let mut dev = dev;
    dev.token = rotated.json()["token"].as_str().unwrap().to_string();
    let channel = app.post_json(
        "/api/notifications/channels",
        Some(&app.admin),
        &json!({"kind": "webhook", "name": "lab", "url": "https://hooks.example/T0K3N-in-url"}),
    );
    assert_eq!(channel.status, 201, "{}", channel.text());
    let channel = channel.json();
    let channel_id = channel["id"].as_i64().unwrap();
    let webhook_secret = channel["secret"].as_str().unwrap().to_string();

    // CI uploads a bundle; a device crashes; the crash is grouped.
    let elf = decode_support::xtensa_app();
    app.install_bundle("m", "1.0", &elf);
    let dump = decode_support::xtensa_core(&decode_support::sha256_hex(&elf)[..9]);
    let up = |dev: &common::TestDevice| {
        let r = app.upload(dev, "esp32", "1.0", &dump);
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["coredump_id"].as_i64().unwrap()
    };
    let first = up(&dev);
    let group = app.wait_parsed(dev.id, first, WAIT)["group_id"]
        .as_i64()
        .expect("the dump is grouped");
    let second = up(&dev);
    app.wait_parsed(dev.id, second, WAIT);

    // Group status changes from the API.
    for action in ["resolve", "mute", "reopen"] {
        let r = app.post_json(
            &format!("/api/groups/{group}/{action}"),
            Some(&app.admin),
            &json!({"version": "1.0"}),
        );
        assert_eq!(r.status, 200, "{action}: {}", r.text());
    }
    // A dump delete from the API, the rest from the dashboard, and a token made there.
    let r = app.delete(
        &format!("/api/devices/{}/coredumps/{first}", dev.id),
        Some(&app.admin),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let browser = Browser::new(&app);
    let csrf = browser.login();
    let r = browser.post(
        &format!("/devices/{}/coredumps/delete", dev.id),
        &[("csrf", &csrf), ("confirm", "yes")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let r = browser.post(
        "/tokens",
        &[("csrf", &csrf), ("name", "deploy"), ("role", "pipeline")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    let deploy_token = html
        .split("cba_")
        .nth(1)
        .map(|s| {
            format!(
                "cba_{}",
                s.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or_default()
            )
        })
        .expect("the new token is shown once");
    // A revoke, a firmware delete, a channel delete, the device and the model go.
    let tokens = app.get("/api/tokens", Some(&app.admin)).json();
    let deploy_id = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "deploy")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.delete(&format!("/api/tokens/{deploy_id}"), Some(&app.admin))
            .status,
        204
    );
    app.install_bundle("m", "1.1", &elf);
    assert_eq!(
        app.delete("/api/models/m/firmware/1.0", Some(&app.admin))
            .status,
        204
    );
    assert_eq!(
        app.delete(
            &format!("/api/notifications/channels/{channel_id}"),
            Some(&app.admin)
        )
        .status,
        204
    );
    assert_eq!(
        app.delete(&format!("/api/devices/{}", dev.id), Some(&app.admin))
            .status,
        204
    );
    // The command line: a model added and removed, a password set.
    for args in [
        &["model", "add", "bench"][..],
        &["model", "rm", "bench"],
        &["user", "passwd", "admin"],
    ] {
        let out = if args[0] == "user" {
            app.cli_stdin(args, "another long password\n")
        } else {
            app.cli(args)
        };
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    // Refused changes record nothing.
    assert_eq!(
        app.delete("/api/devices/999999", Some(&app.admin)).status,
        404
    );
    assert_eq!(app.delete("/api/models/nope", Some(&app.admin)).status, 404);

    let device = format!("device:{}", dev.key);
    let group_t = format!("group:{group}");
    let channel_t = format!("channel:{channel_id}");
    let deploy_t = format!("token:{deploy_id}");
    let want = vec![
        t("cli", "token.create", "token:1"),
        t("cli", "token.create", "token:2"),
        t("cli", "user.password", "user:admin"),
        t(admin, "model.create", "model:m"),
        t(admin, "device.create", &device),
        t(admin, "device.token_rotate", &device),
        t(admin, "channel.create", &channel_t),
        t("token:test-ci", "firmware.upload", "model:m"),
        t(admin, "group.resolve", &group_t),
        t(admin, "group.mute", &group_t),
        t(admin, "group.reopen", &group_t),
        t(admin, "coredump.delete", &device),
        t("admin", "coredump.delete_all", &device),
        t("admin", "token.create", &deploy_t),
        t(admin, "token.revoke", &deploy_t),
        t("token:test-ci", "firmware.upload", "model:m"),
        t(admin, "firmware.delete", "model:m"),
        t(admin, "channel.delete", &channel_t),
        t(admin, "device.delete", &device),
        t("cli", "model.create", "model:bench"),
        t("cli", "model.delete", "model:bench"),
        t("cli", "user.password", "user:admin"),
    ];
    assert_eq!(log(&app, "?limit=1000"), want);

    // The particulars, and never a secret.
    let all = entries(&app, "?limit=1000");
    let raw = serde_json::to_string(&all).unwrap();
    for secret in [
        app.admin.as_str(),
        &dev.token,
        &old_device_token,
        &webhook_secret,
        "T0K3N-in-url",
        &deploy_token,
        "another long password",
    ] {
        assert!(!raw.contains(secret), "a secret reached the audit log");
    }
    let find = |action: &str| {
        all.iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action}"))["detail"]
            .clone()
    };
    assert_eq!(find("group.resolve")["version"], "1.0");
    assert_eq!(find("group.resolve")["model"], "m");
    assert_eq!(find("firmware.delete")["version"], "1.0");
    assert_eq!(find("coredump.delete")["coredump"], first);
    assert_eq!(find("coredump.delete_all")["deleted"], 1);
    assert_eq!(find("channel.create")["kind"], "webhook");
    assert_eq!(find("token.revoke")["name"], "deploy");

    // Filters: who, an action family, a target, a model; pages by `before`.
    assert_eq!(
        log(&app, "?actor=admin"),
        vec![
            t("admin", "coredump.delete_all", &device),
            t("admin", "token.create", &deploy_t),
        ]
    );
    assert_eq!(log(&app, "?action=group.").len(), 3);
    assert_eq!(log(&app, "?action=group.mute").len(), 1);
    assert_eq!(log(&app, &format!("?target={group_t}")).len(), 3);
    assert!(
        log(&app, "?model=bench")
            .iter()
            .all(|(_, _, target)| target == "model:bench")
    );
    let r = app.get("/api/audit?limit=5", Some(&app.admin)).json();
    let next = r["next_before"]
        .as_i64()
        .expect("a full page has a next page");
    let older = entries(&app, &format!("?limit=5&before={next}"));
    assert_eq!(older.len(), 5);
    assert!(older.iter().all(|e| e["id"].as_i64().unwrap() < next));
    let tail = app.get("/api/audit?limit=1000", Some(&app.admin)).json();
    assert!(tail["next_before"].is_null(), "{tail}");

    // The dashboard page: the newest entries, linked targets, the same filters. (The CLI's
    // password change above ended the browser's session.)
    assert_eq!(browser.get("/audit").status, 303);
    set_admin_password(&app);
    let browser = Browser::new(&app);
    browser.login();
    let page = browser.get("/audit");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("coredump.delete_all"), "{html}");
    assert!(
        html.contains(&format!("href=\"/groups/{group}\"")),
        "{html}"
    );
    assert!(html.contains("kept 365 days"), "{html}");
    let filtered = browser.get("/audit?actor=cli&action=model.").text();
    assert!(filtered.contains("model:bench"), "{filtered}");
    assert!(!filtered.contains("group.resolve"), "{filtered}");
    // A device token cannot read it; an anonymous browser is sent to the login.
    assert_eq!(app.get("/api/audit", None).status, 401);
    let anon = app.get("/audit", None);
    assert_eq!(anon.status, 303);
}

#[test]
fn the_dashboard_pages_the_log_and_keeps_its_filters() {
    let app = TestApp::start();
    set_admin_password(&app);
    for i in 0..105 {
        app.create_model(&format!("m{i}"));
    }
    let browser = Browser::new(&app);
    browser.login();
    let first = browser.get("/audit?actor=token:test-admin").text();
    assert_eq!(
        first.matches("model.create").count(),
        100,
        "one page of 100"
    );
    let older = first
        .split("href=\"/audit?")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("an older-entries link")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(older.contains("actor=token%3Atest-admin"), "{older}");
    let second = browser.get(&format!("/audit?{older}")).text();
    assert_eq!(second.matches("model.create").count(), 5, "{second}");
    assert!(
        second.contains("model:m0<"),
        "the oldest is on the last page"
    );
    assert!(!second.contains("token.create"), "the filter is kept");
}

#[test]
fn old_entries_are_pruned_after_the_retention_time() {
    let app = TestApp::start_with(|c| c.audit_retention_days = 30);
    app.create_model("m");
    {
        let conn = app.state().db.conn().unwrap();
        conn.execute(
            "UPDATE audit_log SET at = '2020-01-01T00:00:00.000Z' WHERE action = 'token.create'",
            [],
        )
        .unwrap();
    }
    // The hourly housekeeping runs once right after start: restart to run it.
    let app = app.restart();
    // Its two new tokens are recorded now; the two old ones go.
    wait_for("old entries pruned", WAIT, || {
        log(&app, "")
            .iter()
            .filter(|(_, a, _)| a == "token.create")
            .count()
            == 2
    });
    // The two tokens of the restarted app are new: kept, as is the model's creation.
    let left = log(&app, "");
    assert!(
        left.contains(&t("token:test-admin", "model.create", "model:m")),
        "{left:?}"
    );

    // 0 keeps everything.
    let keep = TestApp::start_with(|c| c.audit_retention_days = 0);
    {
        let conn = keep.state().db.conn().unwrap();
        conn.execute("UPDATE audit_log SET at = '2000-01-01T00:00:00.000Z'", [])
            .unwrap();
    }
    assert_eq!(crashbox::audit::prune(&keep.state().db, 0).unwrap(), 0);
    assert_eq!(log(&keep, "").len(), 2);
}
