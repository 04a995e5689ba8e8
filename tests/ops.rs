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
