//! Device upload: `POST /api/iot/coredump` (the original system's checks and texts, plus the
//! hardening).
mod common;

use common::{TestApp, corpus_device_upload};

#[test]
fn upload_stores_file_and_pending_row() {
    let app = TestApp::start();
    app.create_model("tempsensor");
    let dev = app.create_device("tempsensor");
    let body = vec![0xA5u8; 4096];
    let r = app.upload(&dev, "esp32s3", "1.2.3", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "ok");
    let filename = v["filename"].as_str().unwrap();
    assert!(
        filename.starts_with("coredump_") && filename.ends_with("Z.dmp"),
        "{filename}"
    );
    let files = app.dump_files(&dev.key);
    assert_eq!(files.len(), 1);
    assert_eq!(std::fs::read(&files[0]).unwrap(), body);
    assert!(
        !files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "json"))
    );

    let id = v["coredump_id"].as_i64().unwrap();
    let d = app
        .get(
            &format!("/api/devices/{}/coredumps/{id}", dev.id),
            Some(&app.admin),
        )
        .json();
    assert_eq!(d["chip"], "esp32s3");
    assert_eq!(d["firmware_version"], "1.2.3");
    assert_eq!(d["size"], 4096);
    // Stored as PENDING; the parse workers (running without a sidecar too, with the built-in
    // decoder) may already have finished it: no bundle for 1.2.3, so ERROR.
    match d["parse_status"].as_str() {
        Some("PENDING") => assert!(d["parsed_output"].is_null()),
        Some("ERROR") => assert_eq!(
            d["parsed_output"],
            "Unable to parse coredump: firmware ZIP not found for tempsensor version 1.2.3"
        ),
        other => panic!("unexpected parse_status {other:?}"),
    }
    assert!(d["uploaded_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn missing_query_parameters_are_named() {
    let (app, dev) = app_with_device();
    let r = app.post(
        "/api/iot/coredump?firmware_version=1",
        Some(&dev.token),
        "application/octet-stream",
        b"x",
    );
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "Missing required query parameter: chip")
    );
    let r = app.post(
        "/api/iot/coredump?chip=esp32&firmware_version=",
        Some(&dev.token),
        "application/octet-stream",
        b"x",
    );
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "Missing required query parameter: firmware_version")
    );
}

#[test]
fn body_limits() {
    let (app, dev) = app_with_device();
    let r = app.upload(&dev, "esp32", "1", b"");
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "No coredump content provided")
    );
    // One byte over: the server answers from Content-Length, without reading the body.
    let head = upload_head(&dev.token, "Content-Length: 1048577");
    let resp = raw_request(&app, &head, &[&vec![1u8; 1_048_577]]);
    assert!(
        resp.starts_with("HTTP/1.1 400") && resp.contains("Coredump exceeds maximum size of 1MB"),
        "{resp}"
    );
    let r = app.upload(&dev, "esp32", "1", &vec![1u8; 1_048_576]);
    assert_eq!(r.status, 201, "exactly 1 MiB is accepted");
    assert_eq!(app.dump_files(&dev.key).len(), 1);
}

/// The head of a raw upload request with one framing header (`Content-Length: N` or
/// `Transfer-Encoding: chunked`).
fn upload_head(token: &str, framing: &str) -> String {
    format!(
        "POST /api/iot/coredump?chip=esp32&firmware_version=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{framing}\r\nConnection: close\r\n\r\n"
    )
}

/// A seeded app with one device.
fn app_with_device() -> (TestApp, common::TestDevice) {
    let app = TestApp::start();
    app.create_model("m");
    let dev = app.create_device("m");
    (app, dev)
}

/// The upload was refused with upstream's size message and nothing was stored.
fn assert_rejected_as_oversize(app: &TestApp, dev: &common::TestDevice, resp: &str) {
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(
        resp.contains("Coredump exceeds maximum size of 1MB"),
        "{resp}"
    );
    assert!(app.dump_files(&dev.key).is_empty());
}

/// Writes a raw HTTP/1.1 request and returns the status line and the whole response.
fn raw_request(app: &TestApp, head: &str, body_chunks: &[&[u8]]) -> String {
    use std::io::{Read, Write};
    let addr = app.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.write_all(head.as_bytes()).unwrap();
    for c in body_chunks {
        // A server that already answered may have closed: ignore write errors.
        if s.write_all(c).is_err() {
            break;
        }
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn oversize_content_length_is_rejected_before_reading() {
    let (app, dev) = app_with_device();
    // Announce 100 MiB and send nothing: the answer must come without the body.
    let head = upload_head(&dev.token, "Content-Length: 104857600");
    let resp = raw_request(&app, &head, &[]);
    assert_rejected_as_oversize(&app, &dev, &resp);
}

#[test]
fn oversize_chunked_body_is_cut_while_streaming() {
    let (app, dev) = app_with_device();
    let head = upload_head(&dev.token, "Transfer-Encoding: chunked");
    let chunk = vec![b'A'; 64 * 1024];
    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(b"\r\n");
    let chunks: Vec<&[u8]> = std::iter::repeat_n(framed.as_slice(), 17).collect(); // 1.06 MiB
    let resp = raw_request(&app, &head, &chunks);
    assert_rejected_as_oversize(&app, &dev, &resp);
}

#[test]
fn chunked_body_within_limit_is_stored() {
    let (app, dev) = app_with_device();
    let head = upload_head(&dev.token, "Transfer-Encoding: chunked");
    let resp = raw_request(
        &app,
        &head,
        &[b"5\r\nhello\r\n", b"6\r\n world\r\n", b"0\r\n\r\n"],
    );
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    let files = app.dump_files(&dev.key);
    assert_eq!(std::fs::read(&files[0]).unwrap(), b"hello world");
}

#[test]
fn unencoded_and_odd_query_values_are_accepted() {
    let (app, dev) = app_with_device();
    // As the ESP-IDF client sends them: no encoding at all (`+`, `/`, `:` verbatim), and a
    // stray `%` that is not an escape.
    let r = app.post(
        "/api/iot/coredump?chip=esp32c3&firmware_version=v1.2.3-4-gabc+dirty/x:%zz",
        Some(&dev.token),
        "application/octet-stream",
        b"dump",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["coredump_id"].as_i64().unwrap();
    let d = app
        .get(
            &format!("/api/devices/{}/coredumps/{id}", dev.id),
            Some(&app.admin),
        )
        .json();
    assert_eq!(d["firmware_version"], "v1.2.3-4-gabc+dirty/x:%zz");
    // Encoded spaces decode.
    let r = app.post(
        "/api/iot/coredump?chip=esp32c3&firmware_version=v1.2.3-4-gabc%20dirty",
        Some(&dev.token),
        "application/octet-stream",
        b"dump",
    );
    assert_eq!(r.status, 201);
    let id = r.json()["coredump_id"].as_i64().unwrap();
    let d = app
        .get(
            &format!("/api/devices/{}/coredumps/{id}", dev.id),
            Some(&app.admin),
        )
        .json();
    assert_eq!(d["firmware_version"], "v1.2.3-4-gabc dirty");
}

#[test]
fn over_long_or_unprintable_metadata_is_a_clear_400() {
    let (app, dev) = app_with_device();
    let long = "v".repeat(65);
    let r = app.upload(&dev, "esp32", &long, b"x");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        "Query parameter firmware_version is longer than 64 characters"
    );
    let r = app.upload(&dev, "esp32", &"v".repeat(64), b"x");
    assert_eq!(r.status, 201);
    let r = app.upload(&dev, "esp%0132", "1", b"x");
    assert_eq!(r.status, 400);
    assert!(r.error().contains("chip"), "{}", r.error());
    // Bidi controls (U+202E RIGHT-TO-LEFT OVERRIDE, U+2066 LEFT-TO-RIGHT ISOLATE) would make
    // the version read differently on a page or a terminal.
    for bad in ["1.0%E2%80%AEfdp", "1.0%E2%81%A6x"] {
        let r = app.upload(&dev, "esp32", bad, b"x");
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(
            r.error(),
            "Query parameter firmware_version contains bidirectional control characters"
        );
    }
    assert!(app.dump_files(&dev.key).len() == 1);
}

/// Issue 14: a request with both `Content-Length` and `Transfer-Encoding` (request smuggling's
/// tool) is read by its chunked framing alone and its connection is closed after the answer,
/// so no second request can hide in the body (RFC 9112 §6.3; hyper does both).
#[test]
fn content_length_with_transfer_encoding_cannot_smuggle_a_request() {
    let (app, dev) = app_with_device();
    let smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let body = format!("3\r\nabc\r\n0\r\n\r\n{smuggled}");
    let head = format!(
        "POST /api/iot/coredump?chip=esp32&firmware_version=1 HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        dev.token
    );
    let resp = raw_request(&app, &head, &[body.as_bytes()]);
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    assert_eq!(
        resp.matches("HTTP/1.1 ").count(),
        1,
        "a second answer: {resp}"
    );
    let stored = std::fs::read(&app.dump_files(&dev.key)[0]).unwrap();
    assert_eq!(stored, b"abc");
}

#[test]
fn device_auth_failures() {
    let (app, dev) = app_with_device();
    let path = "/api/iot/coredump?chip=esp32&firmware_version=1";
    let r = app.post(path, None, "application/octet-stream", b"x");
    assert_eq!(
        (r.status, r.error().as_str()),
        (401, "No valid token provided")
    );
    assert_eq!(r.json()["code"], "AUTHENTICATION_REQUIRED");
    let r = app.post(path, Some("cbd_unknown"), "application/octet-stream", b"x");
    assert_eq!(r.status, 401);
    // Other principals' tokens are not device tokens.
    assert_eq!(
        app.post(path, Some(&app.admin), "application/octet-stream", b"x")
            .status,
        401
    );
    assert_eq!(
        app.post(path, Some(&app.pipeline), "application/octet-stream", b"x")
            .status,
        401
    );
    // A rotated token stops working at once.
    let rotated = app.post(
        &format!("/api/devices/{}/token", dev.id),
        Some(&app.admin),
        "application/json",
        b"",
    );
    assert_eq!(rotated.status, 200);
    assert_eq!(app.upload(&dev, "esp32", "1", b"x").status, 401);
    let new = common::TestDevice {
        id: dev.id,
        key: dev.key.clone(),
        token: rotated.json()["token"].as_str().unwrap().into(),
    };
    assert_eq!(app.upload(&new, "esp32", "1", b"x").status, 201);
    assert!(app.dump_files(&dev.key).len() == 1);
}

#[test]
fn consecutive_uploads_get_distinct_names() {
    let (app, dev) = app_with_device();
    let names: std::collections::HashSet<String> = (0..5)
        .map(|i| {
            app.upload(&dev, "esp32", "1", &[i as u8; 10]).json()["filename"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 5);
    assert_eq!(app.dump_files(&dev.key).len(), 5);
}

#[test]
fn corpus_dump_round_trips_byte_identical() {
    if common::corpus_or_skip().is_none() {
        return;
    }
    let (app, dev) = app_with_device();
    let mut n = 0;
    for case in ["esp32", "esp32c3", "esp32c3_bin"] {
        if common::corpus_case(case).is_none() {
            continue;
        }
        let body = corpus_device_upload(case).unwrap();
        let r = app.upload(&dev, "esp32c3", "1.0.0", &body);
        assert_eq!(r.status, 201, "{case}: {}", r.text());
        let id = r.json()["coredump_id"].as_i64().unwrap();
        let d = app.get(
            &format!("/api/devices/{}/coredumps/{id}/download", dev.id),
            Some(&app.admin),
        );
        assert_eq!(d.status, 200);
        assert_eq!(
            d.header("content-type").as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(d.body, body, "{case}: download differs from upload");
        n += 1;
    }
    assert!(
        n > 0,
        "the corpus is present but none of its dumps was uploaded"
    );
}
