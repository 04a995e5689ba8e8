//! Benchmark of the decode pipeline (run in release):
//!
//! ```text
//! cargo run --release --example pipeline_bench -- [JOBS] [--python VENV_PYTHON]
//! ```
//!
//! 1. **Queue throughput** with an instant fake sidecar (answers `{"output":"ok"}` at once): the
//!    cost of the pipeline itself — claim, read the dump, unzip the ELF from its bundle, write
//!    both transfer files, one HTTP round trip, record the result, remove the files. `JOBS` dumps
//!    (default 500) are stored through the same service the upload handler calls (that rate is
//!    printed too) with no workers running; then the app starts and the clock runs until the last
//!    `PARSED`. Once with a tiny ELF (pure overhead)
//!    and once with the 3.7 MB esp32c3 corpus app ELF (realistic copy and unzip cost), for 1 and 2
//!    workers.
//! 2. **Upload → `PARSED` with the built-in decoder** (no sidecar), same dump, 5 runs (the first
//!    builds the symbolizer of the 3.7 MB ELF, later ones hit the cache).
//! 3. **Upload → `PARSED` with the real reference sidecar** (examples/esp-coredump-sidecar:
//!    esp-coredump + gdb-multiarch) on the esp32c3 corpus dump, uploaded over HTTP as the device
//!    sends it; 5 dumps one after another. Needs the venv python (`--python`, or
//!    `CRASHBOX_SIDECAR_PYTHON`, or `target/sidecar-venv/bin/python`) and `../shared/corpus`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crashbox::app::App;
use crashbox::config::{Config, SidecarConfig};
use crashbox::coredump::ingest;
use crashbox::db::coredumps::{self, ParseStatus};
use crashbox::ids::CoredumpId;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let jobs: usize = args
        .iter()
        .find(|a| a.parse::<usize>().is_ok())
        .map(|a| a.parse().unwrap())
        .unwrap_or(500);
    let python = args
        .iter()
        .position(|a| a == "--python")
        .and_then(|i| args.get(i + 1).map(PathBuf::from))
        .or_else(|| std::env::var_os("CRASHBOX_SIDECAR_PYTHON").map(PathBuf::from))
        .or_else(|| {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sidecar-venv/bin/python");
            p.exists().then_some(p)
        });
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/esp-coredump/esp32c3");
    let big_elf = std::fs::read(corpus.join("app.elf")).ok();
    let dump = device_upload(&corpus.join("coredump.b64")).unwrap_or_else(|| vec![0x5a; 3200]);

    println!("== queue throughput, instant fake sidecar, {jobs} jobs");
    println!(
        "{:<28} {:>7} {:>10} {:>10} {:>10}",
        "elf", "workers", "stores/s", "jobs/s", "ms/job"
    );
    let tiny = b"\x7fELF tiny".to_vec();
    let mut elves: Vec<(&str, Vec<u8>)> = vec![("tiny (9 B)", tiny)];
    if let Some(e) = &big_elf {
        elves.push(("esp32c3 app.elf (3.7 MB)", e.clone()));
    }
    for (name, elf) in &elves {
        for workers in [1, 2] {
            let (stores, rate, ms) = throughput(jobs, workers, elf, &dump)?;
            println!("{name:<28} {workers:>7} {stores:>10.0} {rate:>10.0} {ms:>10.2}");
        }
    }

    println!(
        "\n== upload → PARSED, built-in decoder (no sidecar), esp32c3; run 1 builds the symbolizer"
    );
    match &big_elf {
        Some(elf) => {
            let dir = tempfile::tempdir()?;
            upload_until_parsed(Config::for_data_dir(dir.path().join("data")), elf, &dump)?
        }
        None => println!("skipped: needs ../shared/corpus"),
    }

    println!(
        "\n== upload → PARSED, real reference sidecar (esp-coredump + gdb-multiarch), esp32c3"
    );
    match (python, big_elf) {
        (Some(py), Some(elf)) => real_sidecar(&py, &elf, &dump)?,
        _ => println!(
            "skipped: needs the sidecar venv (.ci/install-sidecar.sh) and ../shared/corpus"
        ),
    }
    Ok(())
}

/// Stores `jobs` dumps with no workers running, then starts the app and times the drain of the
/// queue (the start-up sweep queues them all). Returns (stores/s, jobs/s, ms per job).
fn throughput(
    jobs: usize,
    workers: usize,
    elf: &[u8],
    dump: &[u8],
) -> anyhow::Result<(f64, f64, f64)> {
    let sidecar = InstantSidecar::start()?;
    let dir = tempfile::tempdir()?;
    let mut config = Config::for_data_dir(dir.path().join("data"));
    config.workers = workers;
    config.max_coredumps = u32::MAX / 2;

    // The backlog, stored as the upload handler stores it, with no workers running.
    std::fs::create_dir_all(&config.data_dir)?;
    let db = crashbox::db::Db::open(&config.db_path)?;
    let layout =
        crashbox::store::Layout::new(config.coredumps_dir.clone(), config.assets_dir.clone());
    layout.create_dirs()?;
    crashbox::fleet::models::create(&db, "bench", None, &crashbox::audit::Actor::Cli)?;
    write_bundle(&config.assets_dir, "bench", "1.0.0", elf)?;
    let dev = crashbox::fleet::devices::create(&db, "bench", None, &crashbox::audit::Actor::Cli)?;
    let device = crashbox::fleet::devices::find_by_key(&db, dev.key.as_str())?;
    let spares = crashbox::store::spares::Spares::new();
    let t = Instant::now();
    let mut ids = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let upload = ingest::Upload {
            device: &device,
            chip: "esp32c3",
            firmware_version: "1.0.0",
            body: dump,
        };
        let stored = ingest::ingest(&db, &layout, &spares, config.max_coredumps, upload)?;
        ids.push(stored.id);
    }
    let stores = jobs as f64 / t.elapsed().as_secs_f64();
    drop(db);

    config.sidecar = Some(SidecarConfig {
        url: sidecar.url.clone(),
        xfer_dir: dir.path().join("xfer"),
        timeout: Duration::from_secs(10),
    });
    let start = Instant::now();
    let app = App::open(config)?;
    for id in &ids {
        wait_parsed(&app.state.db, *id, Duration::from_secs(600))?;
    }
    let secs = start.elapsed().as_secs_f64();
    app.shutdown();
    Ok((stores, jobs as f64 / secs, secs * 1e3 / jobs as f64))
}

fn wait_parsed(
    db: &crashbox::db::Db,
    id: CoredumpId,
    timeout: Duration,
) -> anyhow::Result<coredumps::Coredump> {
    let deadline = Instant::now() + timeout;
    loop {
        let c = coredumps::find_by_id(&*db.conn()?, id)?
            .ok_or_else(|| anyhow::anyhow!("coredump {id} vanished"))?;
        match c.parse_status {
            ParseStatus::Parsed => return Ok(c),
            ParseStatus::Error => {
                anyhow::bail!("coredump {id}: {}", c.parsed_output.unwrap_or_default())
            }
            ParseStatus::Pending if Instant::now() > deadline => {
                anyhow::bail!("coredump {id} still PENDING after {timeout:?}")
            }
            ParseStatus::Pending => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

fn real_sidecar(python: &Path, elf: &[u8], dump: &[u8]) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let xfer = dir.path().join("xfer");
    std::fs::create_dir_all(&xfer)?;
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/esp-coredump-sidecar/sidecar.py");
    let mut child = Command::new(python)
        .arg(&script)
        .arg("--xfer-dir")
        .arg(&xfer)
        .args(["--bind", "127.0.0.1:0"])
        .env("SIDECAR_LOG", "WARNING")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
    let url = line.trim().trim_start_matches("listening on ").to_string();
    let mut config = Config::for_data_dir(dir.path().join("data"));
    config.sidecar = Some(SidecarConfig {
        url,
        xfer_dir: xfer.clone(),
        timeout: Duration::from_secs(120),
    });
    let result = upload_until_parsed(config, elf, dump);
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Uploads the dump over HTTP 5 times, one after another, and prints upload → `PARSED` times.
fn upload_until_parsed(config: Config, elf: &[u8], dump: &[u8]) -> anyhow::Result<()> {
    let app = App::open(config)?;
    let st = app.state.clone();
    crashbox::fleet::models::create(&st.db, "bench", None, &crashbox::audit::Actor::Cli)?;
    write_bundle(&st.config.assets_dir, "bench", "1.0.0", elf)?;
    let dev =
        crashbox::fleet::devices::create(&st.db, "bench", None, &crashbox::audit::Actor::Cli)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = app.router();
    rt.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut r = agent
            .post(format!(
                "{base}/api/iot/coredump?chip=esp32c3&firmware_version=1.0.0"
            ))
            .header("Authorization", format!("Bearer {}", dev.token))
            .send(dump)?;
        let v: serde_json::Value = serde_json::from_slice(&r.body_mut().read_to_vec()?)?;
        let id = CoredumpId(v["coredump_id"].as_i64().unwrap_or(-1));
        let c = wait_parsed(&st.db, id, Duration::from_secs(180))?;
        times.push(t.elapsed().as_secs_f64());
        assert!(c.parsed_output.unwrap_or_default().contains("fail_once"));
    }
    app.shutdown();
    rt.shutdown_timeout(Duration::from_secs(2));
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "runs: {}",
        times
            .iter()
            .map(|t| format!("{:.1} ms", t * 1e3))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "median {:.1} ms, min {:.1} ms, max {:.1} ms",
        sorted[sorted.len() / 2] * 1e3,
        sorted[0] * 1e3,
        sorted[sorted.len() - 1] * 1e3
    );
    Ok(())
}

/// `ASSETS_DIR/<code>/firmware-<version>.zip` with `<code>.elf` (all the worker reads).
fn write_bundle(assets: &Path, code: &str, version: &str, elf: &[u8]) -> anyhow::Result<()> {
    let dir = assets.join(code);
    std::fs::create_dir_all(&dir)?;
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file(format!("{code}.elf"), opts)?;
        z.write_all(elf)?;
        z.finish()?;
    }
    std::fs::write(
        dir.join(format!("firmware-{version}.zip")),
        out.into_inner(),
    )?;
    Ok(())
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

/// A sidecar that answers every request at once (thread per connection).
struct InstantSidecar {
    url: String,
}

impl InstantSidecar {
    fn start() -> std::io::Result<InstantSidecar> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut conn = conn;
                    let mut buf = [0u8; 4096];
                    let mut seen = Vec::new();
                    // Read the request head, answer, close.
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = br#"{"output":"ok"}"#;
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = conn.write_all(body);
                });
            }
        });
        Ok(InstantSidecar { url })
    }
}
