//! Upload → `PARSED` of the first dump of freshly uploaded firmware versions, against the real
//! server binary, and the server's peak RSS after decoding them (run in release):
//!
//! ```text
//! cargo build --release && cargo run --release --example first_dump_bench -- [VERSIONS]
//! ```
//!
//! Starts `target/release/crashbox serve` on a fresh data dir (`MAX_FIRMWARES` 1000, built-in
//! decoder), then for each of `VERSIONS` (default 50) new versions: uploads a bundle
//! synthesised around the esp32c3 corpus ELF (same ELF, its own version in the app image and
//! `version.json`) over the pipeline API, posts the corpus dump for that version right after,
//! waits for `PARSED` and takes the dump's stored `uploaded_at` → `parsed_at`.
//!
//! - **indexed**: as shipped; the upload wrote the version's index, the worker reads it.
//! - **no index (the rival)**: the same, with the index file deleted between the bundle
//!   upload and the dump, so the worker takes the ELF path (unzip, SHA-256, parse the ELF,
//!   and then it writes the index). This is what the first dump of a version cost before.
//!
//! The two kinds alternate (paired runs). Then the server's `VmHWM`/`VmRSS` from
//! `/proc/<pid>/status`, after all versions were decoded.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crashbox::app::App;
use crashbox::config::Config;
use crashbox::db::tokens::Role;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    let versions: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("../shared/corpus/esp-coredump/esp32c3");
    let elf = std::fs::read(corpus.join("app.elf"))?;
    let dump =
        device_upload(&corpus.join("coredump.b64")).ok_or_else(|| anyhow::anyhow!("dump"))?;
    let bin = root.join("target/release/crashbox");
    anyhow::ensure!(
        bin.exists(),
        "build the server first: cargo build --release"
    );

    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut config = Config::for_data_dir(data.clone());
    config.max_firmwares = 1000;
    let (admin, pipeline, device) = {
        let app = App::open(config.clone())?;
        let db = &app.state.db;
        crashbox::fleet::models::create(db, "bench", None, &crashbox::audit::Actor::Cli)?;
        let dev =
            crashbox::fleet::devices::create(db, "bench", None, &crashbox::audit::Actor::Cli)?;
        let admin = crashbox::fleet::tokens::create(
            db,
            "bench-admin",
            Role::Admin,
            &crashbox::audit::Actor::Cli,
        )?
        .token;
        let ci = crashbox::fleet::tokens::create(
            db,
            "bench-ci",
            Role::Pipeline,
            &crashbox::audit::Actor::Cli,
        )?
        .token;
        app.shutdown();
        (admin, ci, dev)
    };
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let start = || -> anyhow::Result<Server> {
        let server = Server(
            Command::new(&bin)
                .arg("--data-dir")
                .arg(&data)
                .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
                .env("MAX_FIRMWARES", "1000")
                .env("CRASHBOX_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent.get(format!("{base}/metrics")).call().is_err() {
            anyhow::ensure!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    };
    let mut server = start()?;
    let post_dump = |version: &str| -> anyhow::Result<f64> {
        let mut r = agent
            .post(format!(
                "{base}/api/iot/coredump?chip=esp32c3&firmware_version={version}"
            ))
            .header("Authorization", format!("Bearer {}", device.token))
            .send(&dump[..])?;
        let v: serde_json::Value = serde_json::from_slice(&r.body_mut().read_to_vec()?)?;
        let id = v["coredump_id"].as_i64().unwrap_or(-1);
        let waited = Instant::now();
        let detail = loop {
            let mut r = agent
                .get(format!("{base}/api/devices/{}/coredumps/{id}", device.id))
                .header("Authorization", format!("Bearer {admin}"))
                .call()?;
            let d: serde_json::Value = serde_json::from_slice(&r.body_mut().read_to_vec()?)?;
            if d["parse_status"] != "PENDING" {
                break d;
            }
            anyhow::ensure!(waited.elapsed() < Duration::from_secs(120), "timeout");
            std::thread::sleep(Duration::from_millis(1));
        };
        anyhow::ensure!(detail["parse_status"] == "PARSED", "{detail}");
        let ts = |k: &str| {
            chrono::DateTime::parse_from_rfc3339(detail[k].as_str().unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("{k}: {e}"))
        };
        Ok((ts("parsed_at")? - ts("uploaded_at")?)
            .num_microseconds()
            .unwrap_or(0) as f64
            / 1e3)
    };
    let upload_bundle = |version: &str| -> anyhow::Result<f64> {
        let t = Instant::now();
        let mut r = agent
            .post(format!("{base}/api/pipeline/models/bench/firmware"))
            .header("Authorization", format!("Bearer {pipeline}"))
            .header("Content-Type", "application/octet-stream")
            .send(&bundle("bench", version, &elf)[..])?;
        anyhow::ensure!(
            r.status() == 200,
            "upload: {}",
            r.body_mut().read_to_string()?
        );
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    let rss = |server: &Server| -> anyhow::Result<String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", server.0.id()))?;
        let field = |k: &str| {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .map(|l| l.trim_start_matches(k).trim().to_string())
                .unwrap_or_default()
        };
        Ok(format!(
            "VmHWM {}, VmRSS {}",
            field("VmHWM:"),
            field("VmRSS:")
        ))
    };

    // 1. As shipped: each version's first dump right after its upload, then a second one.
    let (mut first, mut second, mut upload_ms) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..versions {
        let version = format!("1.0.{i}");
        upload_ms.push(upload_bundle(&version)?);
        let idx = data.join(format!("assets/bench/firmware-{version}.idx"));
        anyhow::ensure!(idx.exists(), "no index written for {version}");
        first.push(post_dump(&version)?);
        second.push(post_dump(&version)?);
    }
    let rss_indexed = rss(&server)?;
    // 2. The rival, the ELF path: the index deleted between upload and first dump.
    let mut plain = Vec::new();
    for i in 0..versions.min(20) {
        let version = format!("2.0.{i}");
        upload_bundle(&version)?;
        std::fs::remove_file(data.join(format!("assets/bench/firmware-{version}.idx")))?;
        plain.push(post_dump(&version)?);
    }
    let rss_all = rss(&server)?;
    // 3. A fresh server process (nothing of any version in memory) decodes one more dump of
    //    each indexed version: the worker's peak RSS with all of them decoded.
    drop(server);
    server = start()?;
    let mut restarted = Vec::new();
    for i in 0..versions {
        restarted.push(post_dump(&format!("1.0.{i}"))?);
    }
    let rss_restarted = rss(&server)?;

    println!("esp32c3 corpus ELF (3.7 MB) and dump; stored uploaded_at -> parsed_at of each dump");
    println!(
        "{:<44} {:>4} {:>8} {:>8} {:>8}",
        "", "n", "p50 ms", "p99 ms", "max ms"
    );
    for (name, v) in [
        ("first dump of a fresh version (index)", &first),
        ("second dump of the same version", &second),
        ("first dump, index deleted (ELF path)", &plain),
        ("after a restart, one dump of every version", &restarted),
    ] {
        let (p50, p99, max) = pct(v);
        println!("{name:<44} {:>4} {p50:>8.2} {p99:>8.2} {max:>8.2}", v.len());
    }
    let (p50, p99, max) = pct(&upload_ms);
    println!(
        "bundle upload round trip (incl. indexing): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
    );
    println!("server after {versions} indexed versions decoded: {rss_indexed}");
    println!("server after the ELF-path versions too: {rss_all}");
    println!(
        "fresh server process after one dump of each of the {versions} versions: {rss_restarted}"
    );
    drop(server);
    Ok(())
}

fn pct(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let at = |q: f64| {
        s.get(((s.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    (at(0.5), at(0.99), s.last().copied().unwrap_or(0.0))
}

/// A minimal ESP-IDF app image whose `esp_app_desc_t` carries `version`.
fn app_image(version: &str) -> Vec<u8> {
    crashbox::firmware::app_image::synthetic_image(version, 1000)
}

/// A firmware bundle for `code` at `version` around `elf`, as CI uploads it.
fn bundle(code: &str, version: &str, elf: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let info = format!(
            r#"{{"git_commit":"0123abc","idf_version":"v5.1","firmware_version":"{version}"}}"#
        );
        let members: [(String, &[u8]); 5] = [
            (format!("{code}.bin"), &app_image(version)),
            (format!("{code}.elf"), elf),
            (format!("{code}.map"), b"map"),
            ("sdkconfig".into(), b"CONFIG_IDF_TARGET=\"esp32c3\"\n"),
            ("version.json".into(), info.as_bytes()),
        ];
        for (name, data) in members {
            z.start_file(name, opts).expect("zip member");
            z.write_all(data).expect("zip write");
        }
        z.finish().expect("zip finish");
    }
    out.into_inner()
}

/// The corpus dump as the device sends it (base64 lines → partition image → bare ELF core).
fn device_upload(b64: &Path) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = std::fs::read_to_string(b64).ok()?;
    let mut raw = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        raw.extend(
            base64::engine::general_purpose::STANDARD
                .decode(line)
                .ok()?,
        );
    }
    let version = u32::from_le_bytes(raw.get(4..8)?.try_into().ok()?);
    let checksum = if version & 0xff == 3 { 32 } else { 4 };
    raw.get(24..raw.len().checked_sub(checksum)?)
        .map(<[u8]>::to_vec)
}
