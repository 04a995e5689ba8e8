//! The one test harness: a real crashbox (the same `App` start-up as `serve`) on 127.0.0.1:0
//! with a temp data dir, driven over real HTTP with a blocking client, plus seed helpers and a
//! CLI runner for the built binary.
#![allow(dead_code)]

// Decode pipeline: fake parse sidecar and firmware bundles.
pub mod pipeline;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crashbox::app::App;
use crashbox::config::Config;
use crashbox::db::tokens::Role;
use serde_json::Value;

pub mod firmware;

// Dashboard tests: cookies, sign-in, CSRF fields.
pub mod browser;

// Skipping, `../shared` and the corpus: shared with the tests that do not start an app.
#[path = "../support/mod.rs"]
pub mod support;

#[allow(unused_imports)] // not every test file skips
pub use support::{corpus_case, corpus_dir, corpus_or_skip, skip};

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub base: String,
    pub admin: String,
    pub pipeline: String,
    pub app: Option<App>,
    rt: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    agent: ureq::Agent,
}

/// A response, read in full.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    /// The `error` text of an error envelope.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A device created for a test, with its one-time token.
pub struct TestDevice {
    pub id: i64,
    pub key: String,
    pub token: String,
}

/// The tests' HTTP client. Connections are not reused: the server closes a connection after an
/// answer it gave without reading the request body (a 401 before an upload's body), and a
/// pooled connection closed that way made the next POST on it fail at random.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .max_redirects(0)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build()
        .into()
}

impl TestApp {
    pub fn start() -> TestApp {
        TestApp::start_with(|_| {})
    }

    /// Starts with a config adjusted by `tune` (it receives the defaults for the temp dir).
    pub fn start_with(tune: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path().join("data"));
        tune(&mut config);
        TestApp::boot(dir, config)
    }

    fn boot(dir: tempfile::TempDir, config: Config) -> TestApp {
        let app = App::open(config.clone()).expect("app starts");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = app.router();
        let limits = config.http.clone();
        let server = rt.spawn(async move {
            let _ = crashbox::web::server::serve(listener, router, &limits, async {
                let _ = rx.await;
            })
            .await;
        });
        let admin = crashbox::fleet::tokens::create(
            &app.state.db,
            "test-admin",
            Role::Admin,
            &crashbox::audit::Actor::Cli,
        )
        .expect("admin token")
        .token;
        let pipeline = crashbox::fleet::tokens::create(
            &app.state.db,
            "test-ci",
            Role::Pipeline,
            &crashbox::audit::Actor::Cli,
        )
        .expect("pipeline token")
        .token;
        TestApp {
            dir,
            config,
            base,
            admin,
            pipeline,
            app: Some(app),
            rt: Some(rt),
            stop: Some(tx),
            server: Some(server),
            agent: agent(),
        }
    }

    /// Stops the server (finishing in-flight requests) and the workers.
    fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let (Some(rt), Some(server)) = (self.rt.as_ref(), self.server.take()) {
            let _ = rt.block_on(server);
        }
        if let Some(app) = self.app.take() {
            app.shutdown();
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }

    /// Signals the HTTP server to stop and waits until it has (the workers keep running):
    /// what SIGTERM does to `serve`.
    pub fn stop_server(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let (Some(rt), Some(server)) = (self.rt.as_ref(), self.server.take()) {
            let _ = rt.block_on(server);
        }
    }

    /// The server's socket address (`127.0.0.1:port`).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base
            .trim_start_matches("http://")
            .parse()
            .expect("server address")
    }

    /// Stops and starts again on the same data dir (a new port).
    pub fn restart(mut self) -> TestApp {
        self.stop();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let config = self.config.clone();
        TestApp::boot(dir, config)
    }

    /// Restarts with a changed config.
    pub fn restart_with(mut self, tune: impl FnOnce(&mut Config)) -> TestApp {
        self.stop();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let mut config = self.config.clone();
        tune(&mut config);
        TestApp::boot(dir, config)
    }

    pub fn state(&self) -> &crashbox::web::AppState {
        &self.app.as_ref().expect("running").state
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
        let mut r = r.expect("request completes");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r
            .body_mut()
            .with_config()
            .limit(512 << 20)
            .read_to_vec()
            .expect("body");
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.get_with(path, token, &[])
    }

    pub fn get_with(&self, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.agent.get(self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::finish(req.call())
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        let mut req = self.agent.delete(self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::finish(req.call())
    }

    pub fn post(&self, path: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> Resp {
        let mut req = self
            .agent
            .post(self.url(path))
            .header("Content-Type", content_type);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::finish(req.send(body))
    }

    /// A POST with extra headers and no bearer token (dashboard forms carry a cookie).
    pub fn post_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &[u8],
    ) -> Resp {
        let mut req = self
            .agent
            .post(self.url(path))
            .header("Content-Type", content_type);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::finish(req.send(body))
    }

    /// A PUT with a JSON body, on a connection of its own: a PUT the server rejects before
    /// reading its body ends the connection, which the pool would otherwise reuse.
    pub fn put_json(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        let mut req = self
            .agent
            .put(self.url(path))
            .header("Content-Type", "application/json")
            .header("Connection", "close");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::finish(req.send(body.to_string().as_bytes()))
    }

    /// A PATCH with a JSON body, on a connection of its own (as [`TestApp::put_json`]).
    pub fn patch_json(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        let mut req = self
            .agent
            .patch(self.url(path))
            .header("Content-Type", "application/json")
            .header("Connection", "close");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::finish(req.send(body.to_string().as_bytes()))
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.post(path, token, "application/json", body.to_string().as_bytes())
    }

    /// Creates a model through the admin API.
    pub fn create_model(&self, code: &str) {
        let r = self.post_json(
            "/api/models",
            Some(&self.admin),
            &serde_json::json!({"code": code, "name": code}),
        );
        assert_eq!(r.status, 201, "create model: {}", r.text());
    }

    /// Creates a device of `model` through the admin API.
    pub fn create_device(&self, model: &str) -> TestDevice {
        let r = self.post_json(
            "/api/devices",
            Some(&self.admin),
            &serde_json::json!({"model": model}),
        );
        assert_eq!(r.status, 201, "create device: {}", r.text());
        let v = r.json();
        TestDevice {
            id: v["id"].as_i64().expect("id"),
            key: v["key"].as_str().expect("key").to_string(),
            token: v["token"].as_str().expect("token").to_string(),
        }
    }

    /// Uploads a dump as the device client does.
    pub fn upload(&self, device: &TestDevice, chip: &str, fw: &str, body: &[u8]) -> Resp {
        self.post(
            &format!("/api/iot/coredump?chip={chip}&firmware_version={fw}"),
            Some(&device.token),
            "application/octet-stream",
            body,
        )
    }

    /// Files in a device's dump folder.
    pub fn dump_files(&self, key: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.config.coredumps_dir.join(key))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Runs the built `crashbox` binary against this app's data dir.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.config.data_dir, args, None)
    }

    pub fn cli_stdin(&self, args: &[&str], stdin: &str) -> Output {
        cli(&self.config.data_dir, args, Some(stdin))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the built `crashbox` binary with `--data-dir`.
pub fn cli(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_crashbox"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("COREDUMPS_DIR")
        .env_remove("ASSETS_DIR")
        .env_remove("PARSE_SIDECAR_URL")
        .env_remove("PARSE_SIDECAR_XFER_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run crashbox");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("crashbox output")
}

/// Waits for `cond` to hold, polling, up to `timeout`; panics with `what` otherwise.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// A corpus dump as the device client sends it: base64 decoded line by line, then the
/// 24-byte partition header and the trailing checksum (32 bytes for SHA-256 dumps, version
/// byte 3; else 4) stripped, leaving the bare ELF core.
pub fn corpus_device_upload(case: &str) -> Option<Vec<u8>> {
    let raw = support::corpus_image(&corpus_dir()?.join(case))?;
    let version = u32::from_le_bytes(raw.get(4..8)?.try_into().ok()?);
    let checksum = if version & 0xff == 3 { 32 } else { 4 };
    let body = raw.get(24..raw.len().checked_sub(checksum)?)?.to_vec();
    Some(body)
}
