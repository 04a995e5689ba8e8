//! Notifications end to end with real receivers on loopback started by the tests: a webhook
//! sink that verifies the Standard Webhooks signature, Slack- and ntfy-shaped sinks, a minimal
//! SMTP sink; events from real crash groups (the reference corpus, skipped without it and
//! failing under CI=true), retries, failure, restart, cooldown, secrets and principals.
mod common;
mod decode_support;

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{TestApp, TestDevice, corpus_case, corpus_device_upload, wait_for};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const WAIT: Duration = Duration::from_secs(30);

/// Fast retries for tests: 5 attempts within a fraction of a second.
fn fast(c: &mut crashbox::config::Config) {
    c.notify_retry = vec![Duration::from_millis(20); 4];
    c.notify_timeout = Duration::from_secs(2);
    c.public_url = Some("https://crash.example".into());
}

/// One request received by [`HttpSink`].
#[derive(Debug, Clone)]
struct Req {
    at: std::time::Instant,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// An HTTP receiver on loopback: records requests, answers the scripted statuses (then 200).
struct HttpSink {
    url: String,
    got: Arc<Mutex<Vec<Req>>>,
}

impl HttpSink {
    fn start(script: &[u16]) -> HttpSink {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    fn on(listener: TcpListener, script: &[u16]) -> HttpSink {
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let g = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(s) = stream else { break };
                let status = script.lock().unwrap().pop_front().unwrap_or(200);
                if let Some(req) = read_request(&s) {
                    g.lock().unwrap().push(req);
                }
                if status == 0 {
                    // Never answer (a receiver that hangs); the connection stays open.
                    std::mem::forget(s);
                    continue;
                }
                let mut s = s;
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
            }
        });
        HttpSink { url, got }
    }

    fn requests(&self) -> Vec<Req> {
        self.got.lock().unwrap().clone()
    }

    fn wait(&self, n: usize) -> Vec<Req> {
        wait_for("sink requests", WAIT, || self.requests().len() >= n);
        self.requests()
    }
}

fn read_request(s: &TcpStream) -> Option<Req> {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let n: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; n];
    r.read_exact(&mut body).ok()?;
    Some(Req {
        at: std::time::Instant::now(),
        path,
        headers,
        body,
    })
}

type Shared = Arc<Mutex<Vec<String>>>;

/// A minimal SMTP receiver: the DATA of each message, and the AUTH lines.
fn smtp_sink() -> (u16, Shared, Shared) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let auths = Arc::new(Mutex::new(Vec::new()));
    let (g, auth) = (got.clone(), auths.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut w) = stream else { break };
            let mut r = BufReader::new(w.try_clone().unwrap());
            let _ = w.write_all(b"220 sink ESMTP\r\n");
            let mut line = String::new();
            while {
                line.clear();
                r.read_line(&mut line).unwrap_or(0) > 0
            } {
                let cmd = line.trim_end().to_ascii_uppercase();
                let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                    b"250-sink\r\n250 AUTH PLAIN LOGIN\r\n"
                } else if cmd.starts_with("AUTH") {
                    auth.lock().unwrap().push(line.trim_end().to_string());
                    b"235 ok\r\n"
                } else if cmd == "DATA" {
                    let _ = w.write_all(b"354 go on\r\n");
                    let mut data = String::new();
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                            break;
                        }
                        data.push_str(&l);
                    }
                    g.lock().unwrap().push(data);
                    b"250 queued\r\n"
                } else if cmd == "QUIT" {
                    let _ = w.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 ok\r\n"
                };
                let _ = w.write_all(reply);
            }
        }
    });
    (port, got, auths)
}

fn verify(secret: &str, r: &Req) {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(
        format!(
            "{}.{}.",
            r.header("webhook-id"),
            r.header("webhook-timestamp")
        )
        .as_bytes(),
    );
    mac.update(&r.body);
    let want = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(r.header("webhook-signature"), want, "signature");
    let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 300);
}

fn add(app: &TestApp, body: &Value) -> Value {
    let r = app.post_json("/api/notifications/channels", Some(&app.admin), body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn deliveries(app: &TestApp) -> Vec<Value> {
    let r = app.get("/api/notifications/deliveries", Some(&app.admin));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["deliveries"].as_array().unwrap().clone()
}

fn wait_status(app: &TestApp, status: &str) -> Vec<Value> {
    wait_for(&format!("a {status} delivery"), WAIT, || {
        deliveries(app).iter().any(|d| d["status"] == status)
    });
    deliveries(app)
}

fn test_event(app: &TestApp, id: &Value) {
    let r = app.post_json(
        &format!("/api/notifications/channels/{id}/test"),
        Some(&app.admin),
        &json!({}),
    );
    assert_eq!(r.status, 202, "{}", r.text());
}

#[test]
fn webhook_is_signed_and_the_secret_is_shown_once() {
    let app = TestApp::start_with(fast);
    let sink = HttpSink::start(&[]);
    let c = add(&app, &json!({"kind": "webhook", "url": sink.url}));
    let secret = c["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{c}");
    test_event(&app, &c["id"]);
    let got = sink.wait(1);
    assert_eq!(got[0].path, "/hook");
    verify(&secret, &got[0]);
    let p = got[0].json();
    assert_eq!(p["type"], "test");
    assert_eq!(p["event_id"], got[0].header("webhook-id"));
    let d = wait_status(&app, "sent");
    assert_eq!(d[0]["attempts"], 1);

    // Never again: not in the list, not after an update, not in deliveries.
    let list = app.get("/api/notifications/channels", Some(&app.admin));
    let upd = app.put_json(
        &format!("/api/notifications/channels/{}", c["id"]),
        Some(&app.admin),
        &json!({"url": sink.url, "cooldown_s": 60}),
    );
    assert_eq!(upd.status, 200, "{}", upd.text());
    assert_eq!(upd.json()["cooldown_s"], 60);
    assert_eq!(list.json()["channels"][0]["has_secret"], true);
    let key = &secret["whsec_".len()..];
    for text in [
        list.text(),
        upd.text(),
        app.get("/api/notifications/deliveries", Some(&app.admin))
            .text(),
    ] {
        assert!(!text.contains(key), "secret leaked: {text}");
    }
}

#[test]
fn slack_ntfy_and_email_get_the_summary() {
    let app = TestApp::start_with(fast);
    let slack = HttpSink::start(&[]);
    let ntfy = HttpSink::start(&[]);
    let (smtp_port, mails, auths) = smtp_sink();
    let s = add(&app, &json!({"kind": "slack", "url": slack.url}));
    assert!(s.get("secret").is_none(), "{s}");
    let n = add(
        &app,
        &json!({"kind": "ntfy", "url": ntfy.url, "token": "tk_secret_ntfy"}),
    );
    assert!(n.get("secret").is_none(), "{n}");
    let e = add(
        &app,
        &json!({"kind": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp_port,
            "smtp_tls": "plain", "smtp_username": "lab", "smtp_password": "pw_secret_smtp",
            "email_from": "crashbox@lab.example", "email_to": "dev@lab.example"}),
    );
    for c in [&s, &n, &e] {
        test_event(&app, &c["id"]);
    }
    let got = slack.wait(1);
    assert!(
        got[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("Test notification"),
        "{:?}",
        got[0]
    );
    let got = ntfy.wait(1);
    assert_eq!(got[0].header("title"), "crashbox test notification");
    assert_eq!(got[0].header("authorization"), "Bearer tk_secret_ntfy");
    assert!(got[0].header("tags").contains("crashbox"));
    assert!(String::from_utf8_lossy(&got[0].body).contains("Test notification"));
    wait_for("an e-mail", WAIT, || !mails.lock().unwrap().is_empty());
    let auth = auths.lock().unwrap().join("\n");
    let plain = STANDARD.encode("\0lab\0pw_secret_smtp");
    assert!(
        auth.contains(&plain),
        "SMTP AUTH PLAIN with the stored password: {auth}"
    );
    let mail = mails.lock().unwrap()[0].clone();
    assert!(
        mail.contains("Subject: crashbox test notification"),
        "{mail}"
    );
    assert!(mail.contains("To: dev@lab.example"), "{mail}");
    assert!(mail.contains("text/html"), "{mail}");
    wait_for("three sent deliveries", WAIT, || {
        deliveries(&app)
            .iter()
            .filter(|d| d["status"] == "sent")
            .count()
            == 3
    });
    let all = app
        .get("/api/notifications/channels", Some(&app.admin))
        .text();
    assert!(
        !all.contains("tk_secret_ntfy") && !all.contains("pw_secret_smtp"),
        "{all}"
    );
    assert!(all.contains("\"last_status\":\"sent\""), "{all}");
    let metrics = app.get("/metrics", None).text();
    assert!(
        metrics.contains("crashbox_notify_deliveries_total{kind=\"email\",outcome=\"sent\"} 1"),
        "{metrics}"
    );
}

#[test]
fn retries_until_delivered_then_gives_up_on_a_dead_receiver() {
    let app = TestApp::start_with(fast);
    let flaky = HttpSink::start(&[500, 500]);
    let c = add(&app, &json!({"kind": "slack", "url": flaky.url}));
    test_event(&app, &c["id"]);
    flaky.wait(3);
    let d = wait_status(&app, "sent");
    assert_eq!(d[0]["attempts"], 3, "{d:?}");

    // Nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = add(
        &app,
        &json!({"kind": "webhook", "url": format!("http://127.0.0.1:{port}/x")}),
    );
    test_event(&app, &dead["id"]);
    let d = wait_status(&app, "failed");
    let f = d.iter().find(|d| d["status"] == "failed").unwrap();
    assert_eq!(f["attempts"], 5, "{f}");
    assert!(
        f["last_error"].as_str().unwrap().contains("request failed"),
        "{f}"
    );
    let ch = app
        .get("/api/notifications/channels", Some(&app.admin))
        .json();
    assert_eq!(ch["channels"][1]["last_status"], "failed");
}

#[test]
fn undelivered_events_are_sent_after_a_restart() {
    // The receiver is down at first, and the retry is far away: the event waits in the outbox.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let app = TestApp::start_with(|c| {
        fast(c);
        c.notify_retry = vec![Duration::from_millis(1500); 4];
    });
    let c = add(
        &app,
        &json!({"kind": "slack", "url": format!("http://{addr}/hook")}),
    );
    test_event(&app, &c["id"]);
    wait_for("a failed attempt", WAIT, || {
        deliveries(&app).first().is_some_and(|d| d["attempts"] == 1)
    });
    let app = app.restart();
    let sink = HttpSink::on(TcpListener::bind(addr).unwrap(), &[]);
    sink.wait(1);
    let d = wait_status(&app, "sent");
    assert!(d[0]["attempts"].as_i64().unwrap() >= 2, "{d:?}");
}

#[test]
fn channel_input_is_validated() {
    let app = TestApp::start();
    app.create_model("m");
    for (body, want) in [
        (json!({"kind": "pager", "url": "http://x"}), "kind"),
        (json!({"kind": "slack", "url": "ftp://x"}), "url"),
        (json!({"kind": "slack"}), "url"),
        (
            json!({"kind": "slack", "url": "http://x", "events": ["group.deleted"]}),
            "event",
        ),
        (
            json!({"kind": "slack", "url": "http://x", "models": ["nope"]}),
            "nope",
        ),
        (
            json!({"kind": "slack", "url": "http://x", "cooldown_s": -1}),
            "cooldown_s",
        ),
        (
            json!({"kind": "email", "smtp_host": "h", "email_from": "a@b.c"}),
            "email_to",
        ),
        (
            json!({"kind": "slack", "url": "http://x", "bogus": 1}),
            "bogus",
        ),
    ] {
        let r = app.post_json("/api/notifications/channels", Some(&app.admin), &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(r.text().contains(want), "{body}: {}", r.text());
    }
    let ok = add(
        &app,
        &json!({"kind": "slack", "url": "https://x", "models": ["m"]}),
    );
    let id = ok["id"].clone();
    assert_eq!(
        app.delete(
            &format!("/api/notifications/channels/{id}"),
            Some(&app.admin)
        )
        .status,
        204
    );
    assert_eq!(
        app.delete(
            &format!("/api/notifications/channels/{id}"),
            Some(&app.admin)
        )
        .status,
        404
    );
    let r = app.get("/api/notifications/deliveries?limit=0", Some(&app.admin));
    assert_eq!(r.status, 400);
}

// ---- events from real crash groups ----

/// A real dump and the app ELF it was made with.
struct Crash {
    chip: &'static str,
    dump: Vec<u8>,
    elf: Vec<u8>,
}

fn c3() -> Option<Crash> {
    let dir = corpus_case("esp32c3")?;
    Some(Crash {
        chip: "esp32c3",
        dump: corpus_device_upload("esp32c3")?,
        elf: std::fs::read(dir.join("app.elf")).ok()?,
    })
}

/// The synthetic Xtensa fault in `func_a` (another group).
fn other_crash() -> Crash {
    let app = decode_support::xtensa_app();
    Crash {
        chip: "esp32",
        dump: decode_support::xtensa_core(&decode_support::sha256_hex(&app)[..9]),
        elf: app,
    }
}

fn send(app: &TestApp, dev: &TestDevice, fw: &str, crash: &Crash) -> Value {
    let r = app.upload(dev, crash.chip, fw, &crash.dump);
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["coredump_id"].as_i64().expect("coredump_id");
    app.wait_parsed(dev.id, id, WAIT)
}

fn events(app: &TestApp) -> Vec<(String, i64, String)> {
    let mut v: Vec<_> = deliveries(app)
        .iter()
        .map(|d| {
            (
                d["event_type"].as_str().unwrap().to_string(),
                d["channel_id"].as_i64().unwrap(),
                d["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn groups_notify_once_per_matching_channel_with_regressions_and_cooldown() {
    let Some(c3) = c3() else { return };
    let xt = other_crash();
    let app = TestApp::start_with(fast);
    app.create_model("m");
    app.create_model("other");
    let dev = app.create_device("m");
    for v in ["1.0", "1.1", "1.2"] {
        app.install_bundle("m", v, &c3.elf);
    }
    app.install_bundle("m", "2.0", &xt.elf);
    let hook = HttpSink::start(&[]);
    let chat = HttpSink::start(&[]);
    let w = add(&app, &json!({"kind": "webhook", "url": hook.url}));
    let secret = w["secret"].as_str().unwrap().to_string();
    // Cooldown 0: every regression is sent.
    let s = add(
        &app,
        &json!({"kind": "slack", "url": chat.url, "cooldown_s": 0}),
    );
    // Another model only, and only regressions: never selected here.
    add(
        &app,
        &json!({"kind": "slack", "url": chat.url, "models": ["other"]}),
    );
    add(
        &app,
        &json!({"kind": "slack", "url": chat.url, "events": ["group.regressed"], "models": ["m"], "cooldown_s": 0}),
    );
    let (wid, sid) = (w["id"].as_i64().unwrap(), s["id"].as_i64().unwrap());

    let first = send(&app, &dev, "1.1", &c3);
    let g = first["group_id"].as_i64().expect("grouped");
    let got = hook.wait(1);
    verify(&secret, &got[0]);
    let p = got[0].json();
    assert_eq!(p["type"], "group.created");
    assert_eq!(p["group"]["id"], g);
    assert_eq!(p["group"]["model"], "m");
    assert_eq!(p["group"]["count"], 1);
    assert_eq!(p["dump"]["id"], first["id"]);
    assert_eq!(p["dump"]["firmware_version"], "1.1");
    assert_eq!(p["dump"]["device_key"], dev.key.as_str());
    assert_eq!(
        p["links"]["group"],
        format!("https://crash.example/groups/{g}")
    );
    assert!(p["time"].as_str().unwrap().ends_with('Z'));
    let text = chat.wait(1)[0].json()["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("New crash group") && text.contains("1.1"),
        "{text}"
    );
    assert!(
        text.contains(&format!("https://crash.example/groups/{g}")),
        "{text}"
    );
    wait_for("both sent", WAIT, || {
        deliveries(&app)
            .iter()
            .filter(|d| d["status"] == "sent")
            .count()
            == 2
    });
    assert_eq!(
        events(&app),
        vec![
            ("group.created".into(), wid, "sent".into()),
            ("group.created".into(), sid, "sent".into()),
        ]
    );

    // The same crash again: no event; nor a re-parse of the first dump.
    send(&app, &dev, "1.1", &c3);
    let fid = first["id"].as_i64().unwrap();
    let r = app.post_json(
        &format!("/api/devices/{}/coredumps/{fid}/reparse", dev.id),
        Some(&app.admin),
        &json!({}),
    );
    assert!(r.status < 300, "{}", r.text());
    app.wait_parsed(dev.id, fid, WAIT);
    // Another crash: a new group, one more event per channel.
    send(&app, &dev, "2.0", &xt);
    hook.wait(2);
    wait_for("four sent", WAIT, || {
        deliveries(&app)
            .iter()
            .filter(|d| d["status"] == "sent")
            .count()
            == 4
    });
    assert_eq!(events(&app).len(), 4);

    // Resolve in 1.1, crash in 1.2: regressed. The webhook (cooldown 1 h) skips it, the
    // chat channels (cooldown 0) get it.
    let r = app.post_json(
        &format!("/api/groups/{g}/resolve"),
        Some(&app.admin),
        &json!({"version": "1.1"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    send(&app, &dev, "1.2", &c3);
    wait_for("regression sent", WAIT, || {
        deliveries(&app)
            .iter()
            .filter(|d| d["event_type"] == "group.regressed" && d["status"] == "sent")
            .count()
            == 2
    });
    let regressed: Vec<_> = deliveries(&app)
        .into_iter()
        .filter(|d| d["event_type"] == "group.regressed")
        .collect();
    assert_eq!(regressed.len(), 3, "{regressed:?}");
    let skipped = regressed.iter().find(|d| d["channel_id"] == wid).unwrap();
    assert_eq!(skipped["status"], "skipped");
    assert!(skipped["last_error"].as_str().unwrap().contains("cooldown"));
    let chats = chat.wait(4);
    let last = chats.last().unwrap().json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(last.contains("regressed") && last.contains("1.2"), "{last}");
    assert_eq!(hook.requests().len(), 2, "the webhook was cooling down");

    // Muted: never an event.
    app.post_json(
        &format!("/api/groups/{g}/mute"),
        Some(&app.admin),
        &json!({}),
    );
    let before = deliveries(&app).len();
    send(&app, &dev, "1.2", &c3);
    assert_eq!(deliveries(&app).len(), before);

    // A merge is an admin action: it sends nothing, and a later dump of the merged-away
    // signature counts for the surviving (muted) group, so it sends nothing either.
    let other = send(&app, &dev, "2.0", &xt)["group_id"].as_i64().unwrap();
    assert_ne!(other, g);
    let r = app.post_json(
        &format!("/api/groups/{other}/merge"),
        Some(&app.admin),
        &json!({"into": g}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let after = send(&app, &dev, "2.0", &xt);
    assert_eq!(after["group_id"], g);
    assert_eq!(deliveries(&app).len(), before);
}

#[test]
fn the_cli_adds_lists_tests_and_removes_channels() {
    let app = TestApp::start_with(fast);
    let sink = HttpSink::start(&[]);
    let out = app.cli(&[
        "notify", "add", "webhook", "--url", &sink.url, "--name", "lab",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = text
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .expect("secret printed once")
        .to_string();
    let out = app.cli_stdin(
        &[
            "notify",
            "add",
            "ntfy",
            "--url",
            &sink.url,
            "--secret-stdin",
        ],
        "tk_cli_secret\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = app.cli(&["notify", "list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("JSON list");
    assert_eq!(list["channels"].as_array().map(Vec::len), Some(2), "{list}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(&secret["whsec_".len()..]) && !text.contains("tk_cli_secret"));
    // A queued test event is sent by the running server within its sweep.
    let out = app.cli(&["notify", "test", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    verify(&secret, &sink.wait(1)[0]);
    assert!(app.cli(&["notify", "rm", "2"]).status.success());
    assert!(!app.cli(&["notify", "rm", "2"]).status.success());
}

/// `crashbox serve` on `data` with debug logs collected.
fn serve(data: &str) -> (std::process::Child, Arc<Mutex<String>>) {
    use std::process::{Command, Stdio};
    let mut server = Command::new(env!("CARGO_BIN_EXE_crashbox"))
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("CRASHBOX_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = server.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let l = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut l = l.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    (server, log)
}

/// A `crashbox` command on `data` with `stdin`; its stdout (it must succeed).
fn run_cli(data: &str, args: &[&str], stdin: &str) -> String {
    use std::process::{Command, Stdio};
    let mut c = Command::new(env!("CARGO_BIN_EXE_crashbox"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `kill -9` while a delivery is in flight (its receiver hangs): the claim dies with the process
/// and the next start sends the event (at least once).
#[test]
fn a_delivery_in_flight_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let sink = HttpSink::start(&[0]);
    let out = run_cli(&data, &["notify", "add", "webhook", "--url", &sink.url], "");
    let secret = out
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .unwrap()
        .to_string();
    run_cli(&data, &["notify", "test", "1"], "");
    let (mut server, _) = serve(&data);
    let first = sink.wait(1);
    server.kill().unwrap();
    let _ = server.wait();
    let (mut server, _) = serve(&data);
    let got = sink.wait(2);
    server.kill().unwrap();
    let _ = server.wait();
    verify(&secret, &got[1]);
    assert_eq!(
        got[1].header("webhook-id"),
        first[0].header("webhook-id"),
        "the same event, for receivers to de-duplicate"
    );
}

/// The secrets never reach the log of a real `crashbox serve` (debug level), through sent and
/// failed deliveries; the server is then killed with SIGKILL.
#[test]
fn secrets_stay_out_of_the_server_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let cli = |args: &[&str], stdin: &str| run_cli(&data, args, stdin);
    let hook = HttpSink::start(&[]);
    let ntfy = HttpSink::start(&[500; 10]);
    let (smtp_port, mails, _) = smtp_sink();
    let out = cli(&["notify", "add", "webhook", "--url", &hook.url], "");
    let secret = out
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .unwrap()
        .to_string();
    cli(
        &[
            "notify",
            "add",
            "ntfy",
            "--url",
            &ntfy.url,
            "--secret-stdin",
        ],
        "tk_log_secret\n",
    );
    cli(
        &[
            "notify",
            "add",
            "email",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &smtp_port.to_string(),
            "--smtp-tls",
            "plain",
            "--smtp-username",
            "lab",
            "--from",
            "c@lab.example",
            "--to",
            "d@lab.example",
            "--secret-stdin",
        ],
        "pw_log_secret\n",
    );
    for id in ["1", "2", "3"] {
        cli(&["notify", "test", id], "");
    }
    let (mut server, log) = serve(&data);
    verify(&secret, &hook.wait(1)[0]);
    ntfy.wait(1);
    wait_for("an e-mail", WAIT, || !mails.lock().unwrap().is_empty());
    wait_for("the delivery log lines", WAIT, || {
        let l = log.lock().unwrap();
        l.matches("notification sent").count() >= 2 && l.contains("notification not delivered")
    });
    server.kill().unwrap();
    let _ = server.wait();
    let log = log.lock().unwrap().clone();
    for s in [&secret["whsec_".len()..], "tk_log_secret", "pw_log_secret"] {
        assert!(!log.contains(s), "{s} in the log:\n{log}");
    }
}

#[test]
fn a_group_reaching_a_spike_threshold_notifies_once() {
    let Some(c3) = c3() else { return };
    let app = TestApp::start_with(fast);
    app.create_model("m");
    let (a, b) = (app.create_device("m"), app.create_device("m"));
    app.install_bundle("m", "1.0", &c3.elf);
    let r = app.post_json(
        "/api/notifications/channels",
        Some(&app.admin),
        &json!({"kind": "slack", "url": "http://127.0.0.1:9/", "events": ["group.spike"]}),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("threshold"), "{}", r.text());
    let sink = HttpSink::start(&[]);
    let dumps = add(
        &app,
        &json!({"kind": "slack", "url": sink.url, "events": ["group.spike"], "spike_dumps": 3}),
    );
    let devices = add(
        &app,
        &json!({"kind": "ntfy", "url": sink.url, "events": ["group.spike"], "spike_devices": 2,
            "spike_window_s": 600}),
    );
    assert_eq!(devices["spike_window_s"], 600);
    send(&app, &a, "1.0", &c3);
    send(&app, &a, "1.0", &c3);
    assert!(deliveries(&app).is_empty(), "below both thresholds");
    // The third dump, from a second device: both thresholds are reached.
    send(&app, &b, "1.0", &c3);
    let got = sink.wait(2);
    let slack = got
        .iter()
        .find(|r| !r.headers.contains_key("title"))
        .unwrap();
    let text = slack.json()["text"].as_str().unwrap().to_string();
    assert!(text.contains("Crash group spiking"), "{text}");
    let ntfy = got
        .iter()
        .find(|r| r.headers.contains_key("title"))
        .unwrap();
    assert_eq!(ntfy.header("priority"), "high");
    // Past the thresholds: nothing more.
    send(&app, &a, "1.0", &c3);
    send(&app, &b, "1.0", &c3);
    let d = deliveries(&app);
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d.iter().all(|d| d["event_type"] == "group.spike"));
    let ids: Vec<_> = d.iter().map(|d| d["channel_id"].clone()).collect();
    assert!(ids.contains(&dumps["id"]) && ids.contains(&devices["id"]));
}

/// A hanging receiver costs the other channels one attempt timeout per round, not one per
/// queued delivery.
#[test]
fn a_hanging_channel_does_not_hold_up_the_others() {
    let app = TestApp::start_with(|c| {
        fast(c);
        c.notify_timeout = Duration::from_millis(700);
    });
    let hang = HttpSink::start(&[0; 20]);
    let good = HttpSink::start(&[]);
    let h = add(&app, &json!({"kind": "slack", "url": hang.url}));
    let g = add(&app, &json!({"kind": "slack", "url": good.url}));
    for _ in 0..4 {
        test_event(&app, &h["id"]);
    }
    test_event(&app, &g["id"]);
    let sent = good.wait(1)[0].at;
    // The first event may be claimed alone (a round of its own) before the others are queued;
    // the next round tries the hanging channel once and defers its other deliveries. One
    // attempt per delivery would make it 4.
    let before = hang.requests().iter().filter(|r| r.at < sent).count();
    assert!(
        before <= 2,
        "{before} hanging attempts before the good channel's turn"
    );
}

/// The dashboard's Notifications page, as an admin uses it with JavaScript off: add (a
/// webhook's secret shown once, then never), a form that does not validate comes back with its
/// values and the reason, send a test (its outcome on the page), edit (secret kept), a channel
/// that is down shows `failed` and its error, delete asks first; every form needs the CSRF token.
#[test]
fn notifications_page_manages_channels_without_js() {
    use common::browser::{Browser, field, location, set_admin_password};

    let app = TestApp::start_with(|c| {
        fast(c);
        c.public_url = None;
    });
    set_admin_password(&app);
    let b = Browser::new(&app);
    let csrf = b.login();

    let page = b.get("/notifications");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("No channels yet"), "{html}");
    assert!(
        html.contains("<code>CRASHBOX_PUBLIC_URL</code> is not set"),
        "the page says why messages have no links"
    );

    let sink = HttpSink::start(&[]);
    let form = |extra: &[(&'static str, String)]| {
        let mut f: Vec<(&'static str, String)> = vec![
            ("csrf", csrf.clone()),
            ("kind", "webhook".into()),
            ("name", "lab hook".into()),
            ("url", sink.url.clone()),
            ("ev_created", "on".into()),
            ("ev_regressed", "on".into()),
            ("ev_halted", "on".into()),
            ("cooldown_min", "60".into()),
            ("spike_window_min", "60".into()),
        ];
        for (k, v) in extra {
            f.retain(|(fk, _)| fk != k);
            f.push((k, v.clone()));
        }
        f
    };
    let post = |path: &str, f: &[(&'static str, String)]| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post(path, &pairs)
    };

    // Without the session's CSRF token nothing is added.
    let r = post(
        "/notifications/channels",
        &form(&[("csrf", "forged".into())]),
    );
    assert_eq!(r.status, 403, "{}", r.text());

    // A webhook: the secret is shown once, on a page no cache keeps.
    let r = post("/notifications/channels", &form(&[]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let html = r.text();
    let start = html.find("whsec_").expect("the secret is shown");
    let secret: String = html[start..].chars().take_while(|c| *c != '<').collect();
    let channels = app
        .get("/api/notifications/channels", Some(&app.admin))
        .json();
    let id = channels["channels"][0]["id"].as_i64().unwrap();
    assert_eq!(channels["channels"][0]["name"], "lab hook");
    assert_eq!(channels["channels"][0]["cooldown_s"], 3600);
    assert_eq!(
        channels["channels"][0]["events"],
        json!(["group.created", "group.regressed", "rollout.halted"])
    );

    let listed = b.get("/notifications").text();
    assert!(listed.contains("lab hook"), "{listed}");
    assert!(listed.contains("127.0.0.1"), "the target host is shown");
    assert!(
        !listed.contains(&secret["whsec_".len()..]),
        "secret shown again"
    );

    // Send test: delivered, signed with the secret shown, and its outcome is on the page.
    let r = post(
        &format!("/notifications/channels/{id}/test"),
        &[("csrf", csrf.clone())],
    );
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/notifications?done=test-queued");
    let got = sink.wait(1);
    verify(&secret, &got[0]);
    assert_eq!(got[0].json()["type"], "test");
    wait_status(&app, "sent");
    let html = b.get("/notifications?done=test-queued").text();
    assert!(html.contains("Test notification queued"), "flash");
    assert!(
        html.contains(r#"<span class="badge badge-parsed">sent</span>"#),
        "{html}"
    );

    // A form that does not validate keeps what was typed and says why.
    let r = post(
        "/notifications/channels",
        &form(&[
            ("kind", "slack".into()),
            ("name", "chat room".into()),
            ("url", "ftp://nope".into()),
        ]),
    );
    assert_eq!(r.status, 400);
    let html = r.text();
    assert!(
        html.contains("url must be an http:// or https:// URL"),
        "{html}"
    );
    assert!(html.contains(r#"value="chat room""#), "the name is kept");
    assert!(
        html.contains(r#"<option value="slack" selected>"#),
        "the kind is kept"
    );
    let r = post(
        "/notifications/channels",
        &form(&[("cooldown_min", "soon".into())]),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Cooldown must be a whole number"));

    // Edit: new name and cooldown; the stored secret stays (the form never shows it).
    let edit = b.get(&format!("/notifications/channels/{id}"));
    assert_eq!(edit.status, 200);
    assert!(edit.text().contains(r#"value="lab hook""#), "prefilled");
    assert!(
        !edit.text().contains("whsec_"),
        "the secret is not in the form"
    );
    assert_eq!(field(&edit.text(), "csrf"), csrf);
    let r = post(
        &format!("/notifications/channels/{id}"),
        &form(&[("name", "lab hook 2".into()), ("cooldown_min", "5".into())]),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let c = app
        .get("/api/notifications/channels", Some(&app.admin))
        .json();
    assert_eq!(c["channels"][0]["name"], "lab hook 2");
    assert_eq!(c["channels"][0]["cooldown_s"], 300);
    assert_eq!(c["channels"][0]["has_secret"], true);
    let r = post(
        &format!("/notifications/channels/{id}"),
        &form(&[("ev_created", String::new())])
            .into_iter()
            .filter(|(k, _)| !k.starts_with("ev_"))
            .collect::<Vec<_>>(),
    );
    assert_eq!(r.status, 400, "no event chosen");
    assert!(r.text().contains("at least one event"));

    // A channel whose receiver is down: failed after the retries, with the error on the page.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = post(
        "/notifications/channels",
        &form(&[
            ("kind", "ntfy".into()),
            ("name", "dead topic".into()),
            ("url", format!("http://127.0.0.1:{port}/crashes")),
        ]),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(location(&r), "/notifications?done=channel-added");
    let dead = app
        .get("/api/notifications/channels", Some(&app.admin))
        .json()["channels"][1]["id"]
        .as_i64()
        .unwrap();
    post(
        &format!("/notifications/channels/{dead}/test"),
        &[("csrf", csrf.clone())],
    );
    wait_status(&app, "failed");
    let html = b.get("/notifications").text();
    assert!(
        html.contains(r#"<span class="badge badge-error">failed</span>"#),
        "{html}"
    );
    assert!(
        html.contains("request failed"),
        "the error is shown: {html}"
    );

    // Delete asks first (no JS: a confirmation page), then deletes.
    let r = post(
        &format!("/notifications/channels/{dead}/delete"),
        &[("csrf", csrf.clone())],
    );
    assert_eq!(
        location(&r),
        format!("/notifications/channels/{dead}/delete")
    );
    let ask = b.get(&location(&r));
    assert!(ask.text().contains("Delete channel dead topic?"));
    let r = post(
        &format!("/notifications/channels/{dead}/delete"),
        &[("csrf", csrf.clone()), ("confirm", "yes".into())],
    );
    assert_eq!(location(&r), "/notifications?done=channel-deleted");
    let c = app
        .get("/api/notifications/channels", Some(&app.admin))
        .json();
    assert_eq!(c["channels"].as_array().unwrap().len(), 1);
}

#[test]
fn notifications_page_has_no_link_warning_with_a_public_url() {
    use common::browser::{Browser, set_admin_password};
    let app = TestApp::start_with(fast);
    set_admin_password(&app);
    let b = Browser::new(&app);
    b.login();
    let html = b.get("/notifications").text();
    assert!(html.contains("Recent deliveries"), "{html}");
    assert!(!html.contains("is not set"), "{html}");
}

/// Issue 14: a channel's secret can come from a file (`--secret-file`, or
/// `CRASHBOX_NOTIFY_SECRET_FILE`), as systemd credentials and Docker secrets provide them.
#[test]
fn the_cli_reads_a_channel_secret_from_a_file() {
    let app = TestApp::start_with(fast);
    let file = app.dir.path().join("ntfy-token");
    std::fs::write(&file, "tk_from_file\n").unwrap();
    let out = app.cli(&[
        "notify",
        "add",
        "ntfy",
        "--url",
        "http://127.0.0.1:9/topic",
        "--secret-file",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let id: i64 = text
        .split_whitespace()
        .last()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no channel id in {text:?}"));
    let stored = crashbox::db::notify::secret(&app.state().db.conn().unwrap(), id).unwrap();
    assert_eq!(stored.as_deref(), Some("tk_from_file"));
    // A missing file is an error that names the variable, never a channel without its secret.
    let out = app.cli(&[
        "notify",
        "add",
        "ntfy",
        "--url",
        "http://127.0.0.1:9/topic",
        "--secret-file",
        "/nonexistent/token",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CRASHBOX_NOTIFY_SECRET_FILE"));
}
