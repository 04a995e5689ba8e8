//! Slow and hostile clients over real sockets (issue 14): a head that never ends, a body that
//! stalls or trickles, more connections than the cap, a shutdown with a stuck client, an
//! oversized dashboard form and too many firmware uploads at once. Every limit is set short
//! here; the defaults are in docs/deploy.md.
mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{TestApp, wait_for};

/// Reads until the server closes the connection (or `limit` passes); returns what was read and
/// whether the server closed it.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // A reset is a close, too.
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), false)
}

fn status_of(response: &str) -> Option<u16> {
    response.split(' ').nth(1)?.parse().ok()
}

fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr()).expect("connect")
}

fn upload_head(token: &str, length: usize) -> String {
    format!(
        "POST /api/iot/coredump?chip=esp32&firmware_version=1.0 HTTP/1.1\r\nHost: t\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

#[test]
fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let app = TestApp::start_with(|c| c.http.header_timeout = Duration::from_millis(300));
    let mut s = connect(&app);
    let start = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .unwrap();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert!(closed, "the connection stayed open");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(app.get("/healthz", None).status, 200);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let app = TestApp::start_with(|c| c.http.header_timeout = Duration::from_millis(300));
    let mut s = connect(&app);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let (text, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert_eq!(status_of(&text), Some(200), "{text}");
    assert!(closed, "an idle connection stayed open");
}

#[test]
fn an_oversized_head_is_refused_and_does_not_pin_memory() {
    let app = TestApp::start_with(|c| c.http.max_header_bytes = 8192);
    let mut s = connect(&app);
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 << 10)
    );
    let _ = s.write_all(big.as_bytes());
    let (text, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert!(closed);
    // hyper answers 431 when it can, else it just closes.
    assert!(text.is_empty() || status_of(&text) == Some(431), "{text}");
}

#[test]
fn a_stalled_upload_body_gets_408_after_the_body_idle_timeout() {
    let app = TestApp::start_with(|c| c.http.body_idle_timeout = Duration::from_millis(300));
    app.create_model("m");
    let dev = app.create_device("m");
    let mut s = connect(&app);
    let start = Instant::now();
    s.write_all(upload_head(&dev.token, 1000).as_bytes())
        .unwrap();
    s.write_all(&[7u8; 10]).unwrap();
    let (text, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert_eq!(status_of(&text), Some(408), "{text}");
    assert!(text.contains("REQUEST_TIMEOUT"), "{text}");
    assert!(closed);
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(app.dump_files(&dev.key).is_empty());
}

#[test]
fn a_trickling_chunked_body_is_cut_at_the_request_deadline() {
    let app = TestApp::start_with(|c| {
        c.http.body_idle_timeout = Duration::from_secs(2);
        c.http.request_timeout = Duration::from_millis(800);
    });
    app.create_model("m");
    let dev = app.create_device("m");
    let mut s = connect(&app);
    let start = Instant::now();
    let head =
        upload_head(&dev.token, 0).replace("Content-Length: 0", "Transfer-Encoding: chunked");
    s.write_all(head.as_bytes()).unwrap();
    // One byte every 50 ms: never idle for long, never done.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    while start.elapsed() < Duration::from_secs(10) {
        if s.write_all(b"1\r\nA\r\n").is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        if got.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert_eq!(status_of(&text), Some(408), "{text}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn connections_over_the_cap_get_a_clear_503_and_the_server_keeps_answering() {
    let app = TestApp::start_with(|c| c.http.max_connections = 2);
    // Two clients that connect and say nothing hold both slots (the header timeout is long).
    let idle1 = connect(&app);
    let idle2 = connect(&app);
    // The slots are taken once the server has accepted them; a third connection then is
    // refused with an answer, not left hanging or reset.
    let mut refused = String::new();
    wait_for("a refusal", Duration::from_secs(5), || {
        let mut s = connect(&app);
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        refused = read_until_closed(&mut s, Duration::from_secs(3)).0;
        status_of(&refused) == Some(503)
    });
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 5"),
        "{refused}"
    );
    assert!(refused.contains("SERVICE_UNAVAILABLE"), "{refused}");
    drop(idle1);
    drop(idle2);
    wait_for("the server to answer again", Duration::from_secs(5), || {
        app.get("/healthz", None).status == 200
    });
}

#[test]
fn shutdown_cuts_a_stuck_client_at_the_deadline() {
    let mut app = TestApp::start_with(|c| {
        c.http.shutdown_timeout = Duration::from_millis(500);
        c.http.body_idle_timeout = Duration::from_secs(60);
    });
    app.create_model("m");
    let dev = app.create_device("m");
    let mut stuck = connect(&app);
    stuck
        .write_all(upload_head(&dev.token, 1000).as_bytes())
        .unwrap();
    stuck.write_all(&[1u8; 10]).unwrap();
    // The request is in the handler (its body half read) before the signal.
    wait_for("the upload to be in flight", Duration::from_secs(5), || {
        in_flight(&app) >= 2
    });
    let start = Instant::now();
    app.stop_server();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(4),
        "{took:?}"
    );
    let (_, closed) = read_until_closed(&mut stuck, Duration::from_secs(2));
    assert!(closed, "the stuck client was not cut");
}

/// Requests the server is serving, the `/metrics` request that asks included.
fn in_flight(app: &TestApp) -> i64 {
    let text = app.get("/metrics", None).text();
    text.lines()
        .find_map(|l| l.strip_prefix("crashbox_http_requests_in_flight "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn shutdown_lets_a_progressing_upload_finish() {
    let mut app = TestApp::start_with(|c| c.http.shutdown_timeout = Duration::from_secs(10));
    app.create_model("m");
    let dev = app.create_device("m");
    let mut s = connect(&app);
    s.write_all(upload_head(&dev.token, 2000).as_bytes())
        .unwrap();
    s.write_all(&[7u8; 1000]).unwrap();
    wait_for("the upload to be in flight", Duration::from_secs(5), || {
        in_flight(&app) >= 2
    });
    let stopper = std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            let start = Instant::now();
            app.stop_server();
            start.elapsed()
        });
        // The rest of the body arrives after the signal.
        s.write_all(&[7u8; 1000]).unwrap();
        let (text, _) = read_until_closed(&mut s, Duration::from_secs(8));
        assert_eq!(status_of(&text), Some(201), "{text}");
        handle.join().unwrap()
    });
    assert!(stopper < Duration::from_secs(8), "{stopper:?}");
}

#[test]
fn a_dashboard_upload_form_cannot_send_an_oversized_field() {
    let app = TestApp::start_with(|c| {
        c.workers = 0;
        c.max_bundle_bytes = 64 << 10;
    });
    app.create_model("doorbell");
    // No session needed to see the cap on the whole form: it is refused before anything else.
    let boundary = "----b";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n")
        .into_bytes();
    body.extend(std::iter::repeat_n(b'a', 1 << 20));
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    let mut s = connect(&app);
    let head = format!(
        "POST /models/doorbell/firmware HTTP/1.1\r\nHost: t\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(&body);
    let (text, _) = read_until_closed(&mut s, Duration::from_secs(5));
    // Without a session the page redirects to sign in; it never reads the megabyte.
    assert_eq!(status_of(&text), Some(303), "{text}");
}

#[test]
fn firmware_uploads_over_the_cap_get_503_with_retry_after() {
    let app = TestApp::start_with(|c| {
        c.http.max_firmware_uploads = 1;
        c.http.body_idle_timeout = Duration::from_secs(60);
    });
    app.create_model("m");
    // The first upload holds the only slot while its body stalls.
    let mut first = connect(&app);
    let head = format!(
        "POST /api/pipeline/models/m/firmware HTTP/1.1\r\nHost: t\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/zip\r\nContent-Length: 100000\r\n\r\n",
        app.pipeline
    );
    first.write_all(head.as_bytes()).unwrap();
    first.write_all(b"PK\x03\x04").unwrap();
    // It holds the slot once it is in the handler (else a second upload could take it first).
    wait_for(
        "the first upload to be in flight",
        Duration::from_secs(5),
        || in_flight(&app) >= 2,
    );
    let mut second = None;
    wait_for(
        "the second upload to be refused",
        Duration::from_secs(5),
        || {
            let r = app.post(
                "/api/pipeline/models/m/firmware",
                Some(&app.pipeline),
                "application/zip",
                b"PK\x03\x04",
            );
            let refused = r.status == 503;
            second = Some(r);
            refused
        },
    );
    let r = second.unwrap();
    assert_eq!(r.header("retry-after").as_deref(), Some("5"));
    assert_eq!(r.json()["code"], "SERVICE_UNAVAILABLE");
    // Once the first client goes away, its slot is free again.
    drop(first);
    wait_for("the slot to be released", Duration::from_secs(5), || {
        app.post(
            "/api/pipeline/models/m/firmware",
            Some(&app.pipeline),
            "application/zip",
            b"PK\x03\x04",
        )
        .status
            != 503
    });
}

#[test]
fn a_client_that_stops_reading_a_download_is_cut_after_the_send_timeout() {
    let app = TestApp::start_with(|c| c.http.send_timeout = Duration::from_millis(300));
    app.create_model("m");
    let dev = app.create_device("m");
    // A raw app image far larger than the socket buffers on both ends.
    let size = 24 << 20;
    let mut image = common::pipeline::app_image("9.9.9");
    image.resize(size, 0x5a);
    let r = app.post(
        "/api/pipeline/models/m/firmware",
        Some(&app.pipeline),
        "application/octet-stream",
        &image,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut s = connect(&app);
    s.write_all(
        format!(
            "GET /api/iot/firmware HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\r\n",
            dev.token
        )
        .as_bytes(),
    )
    .unwrap();
    // The client reads nothing for well over the send timeout: that stall is the scenario.
    std::thread::sleep(Duration::from_millis(1500));
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(
        got < size,
        "the whole image arrived ({got} bytes): nothing was cut"
    );
    assert_eq!(app.get("/healthz", None).status, 200);
}
