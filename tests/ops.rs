//! Operations endpoints: health and Prometheus metrics.
mod common;

use common::TestApp;

#[test]
fn healthz_reports_ok() {
    let app = TestApp::start();
    let r = app.get("/healthz", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
}

#[test]
fn healthz_fails_when_a_folder_is_not_writable() {
    let app = TestApp::start();
    std::fs::remove_dir_all(&app.config.assets_dir).unwrap();
    std::fs::write(&app.config.assets_dir, b"not a folder").unwrap();
    let r = app.get("/healthz", None);
    assert_eq!(r.status, 503, "{}", r.text());
    // The part that failed, not the OS's error text (which names paths).
    assert_eq!(r.json()["error"], "storage folder not writable");
    assert!(!r.text().contains("os error"), "{}", r.text());
}

#[test]
fn metrics_can_require_a_token_or_an_allowed_address() {
    let app = TestApp::start_with(|c| {
        c.metrics_access.token = Some("s3cret-metrics".into());
    });
    let r = app.get("/metrics", None);
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(app.get("/metrics", Some("wrong")).status, 401);
    assert_eq!(app.get("/metrics", Some("s3cret-metrics")).status, 200);
    // An allow list that holds the client opens it without the token; one that does not, not.
    let app = TestApp::start_with(|c| {
        c.metrics_access.allow =
            crashbox::config::AddrList::parse("CRASHBOX_METRICS_ALLOW", "127.0.0.0/8").unwrap();
    });
    assert_eq!(app.get("/metrics", None).status, 200);
    let app = TestApp::start_with(|c| {
        c.metrics_access.allow =
            crashbox::config::AddrList::parse("CRASHBOX_METRICS_ALLOW", "10.0.0.0/8").unwrap();
    });
    assert_eq!(app.get("/metrics", None).status, 403);
    // The default: open (the default bind is 127.0.0.1).
    assert_eq!(TestApp::start().get("/metrics", None).status, 200);
}

#[test]
fn upload_script_uses_the_public_url_over_request_headers() {
    let app = TestApp::start_with(|c| c.public_url = Some("https://crashbox.lab.example".into()));
    let r = app.get_with(
        "/api/pipeline/upload.sh",
        None,
        &[
            ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Proto", "http"),
        ],
    );
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("'https://crashbox.lab.example'"),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("evil.example"));
}

#[test]
fn metrics_count_uploads_and_requests_by_route() {
    let app = TestApp::start();
    app.create_model("m");
    let dev = app.create_device("m");
    app.upload(&dev, "esp32", "1", b"x");
    app.upload(&dev, "esp32", "1", b"");
    app.get("/no/such/path", None);
    let m = app.get("/metrics", None);
    assert_eq!(m.status, 200);
    let text = m.text();
    assert!(
        text.contains(r#"crashbox_coredump_uploads_total{outcome="stored"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"crashbox_coredump_uploads_total{outcome="rejected"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"crashbox_http_requests_total{method="POST",route="/api/iot/coredump",status="201"} 1"#), "{text}");
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains("crashbox_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("crashbox_parse_queue_depth"), "{text}");
}
