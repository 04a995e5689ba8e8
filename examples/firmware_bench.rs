//! Firmware benchmark.
//!
//! 1. Validate + store a ~4 MiB bundle in process (`firmware::service::upload`, including the
//!    fsyncs and retention), and the validation alone.
//! 2. Device downloads against the release binary run as a separate process
//!    (`target/release/crashbox serve`): MB/s of full image downloads and requests/s of 304s
//!    at N concurrent devices (keep-alive connections), for each image size, with the server's
//!    idle RSS and peak RSS (VmHWM from /proc). A raw loopback TCP blast with the same number of
//!    connections gives the ceiling to compare the download rate with.
//!
//! Run: `cargo build --release && cargo run --release --example firmware_bench`
//! Options: `--secs 5 --conns 16 --sizes 1,8` (image sizes in MiB).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crashbox::config::Config;
use crashbox::db::Db;
use crashbox::firmware::{app_image, bundle, service};
use crashbox::store::Layout;
use crashbox::worker::Jobs;

struct Opts {
    secs: u64,
    conns: usize,
    sizes: Vec<usize>,
}

fn opts() -> Opts {
    let mut o = Opts {
        secs: 5,
        conns: 16,
        sizes: vec![1, 8],
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().map(String::as_str).unwrap_or("");
        match a.as_str() {
            "--secs" => o.secs = v.parse().unwrap_or(o.secs),
            "--conns" => o.conns = v.parse().unwrap_or(o.conns),
            "--sizes" => o.sizes = v.split(',').filter_map(|s| s.parse().ok()).collect(),
            _ => {}
        }
    }
    o
}

/// Incompressible filler (xorshift), so the ZIP is as large as its content.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

fn image(version: &str, size: usize, seed: u64) -> Vec<u8> {
    let mut bin = app_image::synthetic_image(version, 0);
    bin.extend(noise(size.saturating_sub(bin.len()), seed));
    bin
}

fn bundle_zip(code: &str, version: &str, seed: u64) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let members: Vec<(String, Vec<u8>)> = vec![
        (format!("{code}.bin"), image(version, 1_500_000, seed)),
        (format!("{code}.elf"), noise(2_200_000, seed + 1)),
        (format!("{code}.map"), noise(500_000, seed + 2)),
        (
            "sdkconfig".into(),
            b"CONFIG_IDF_TARGET=\"esp32c3\"\n".repeat(200),
        ),
        (
            "version.json".into(),
            format!(
                r#"{{"git_commit":"abc","idf_version":"v5.1","firmware_version":"{version}"}}"#
            )
            .into_bytes(),
        ),
    ];
    for (name, data) in members {
        w.start_file(name, opts).expect("zip member");
        w.write_all(&data).expect("zip write");
    }
    w.finish().expect("zip").into_inner()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let min = ms(v[0]);
    let med = ms(v[v.len() / 2]);
    let max = ms(v[v.len() - 1]);
    (min, med, max)
}

fn bench_upload() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = Config::for_data_dir(dir.path().join("data"));
    std::fs::create_dir_all(&config.data_dir).expect("data dir");
    let db = Db::open(&config.db_path).expect("db");
    let layout = Layout::new(config.coredumps_dir.clone(), config.assets_dir.clone());
    layout.create_dirs().expect("dirs");
    crashbox::fleet::models::create(&db, "bench", None, &crashbox::audit::Actor::Cli)
        .expect("model");
    let code = crashbox::ids::ModelCode::parse("bench").expect("code");
    let zips: Vec<Vec<u8>> = (0..12)
        .map(|i| bundle_zip("bench", &format!("1.0.{i}"), 100 + i))
        .collect();
    println!(
        "bundle: {:.2} MiB ZIP (1.5 MB .bin, 2.2 MB .elf, 0.5 MB .map, incompressible)",
        zips[0].len() as f64 / 1048576.0
    );
    let mut validate = Vec::new();
    for z in &zips {
        let t = Instant::now();
        let b = bundle::check(&code, z, &bundle::Limits::default()).expect("valid");
        let v = app_image::version(&b.bin).expect("version");
        std::hint::black_box((service::sha256_hex(&b.bin), v));
        validate.push(t.elapsed());
    }
    let mut store = Vec::new();
    for z in &zips {
        let t = Instant::now();
        service::upload(
            &db,
            &layout,
            &config,
            &Jobs::disabled(),
            "bench",
            z,
            &crashbox::audit::Actor::Cli,
        )
        .expect("upload");
        store.push(t.elapsed());
    }
    let (a, b, c) = stats(validate);
    println!(
        "validate only (ZIP checks, inflate+CRC of all members, version, SHA-256): min {a:.1} ms, median {b:.1} ms, max {c:.1} ms"
    );
    let (a, b, c) = stats(store);
    println!(
        "validate + store (3 atomic writes with fsync, rows, retention at MAX_FIRMWARES=5): min {a:.1} ms, median {b:.1} ms, max {c:.1} ms  ({} uploads)",
        zips.len()
    );
}

fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of a process (`/proc/<pid>/stat` fields 14 and 15, 100 Hz ticks).
fn cpu_secs(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data_dir: &Path) -> Server {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/crashbox");
    assert!(bin.exists(), "build it first: cargo build --release");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let log = std::fs::File::create(data_dir.join("serve.log")).expect("log");
    let child = Command::new(bin)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("serve")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .env("CRASHBOX_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn serve");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let agent = agent();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = agent.get(format!("{}/healthz", server.base)).call()
            && r.status() == 200
        {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not come up");
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Runs `conns` client threads for `secs`; each request returns bytes received.
fn load(
    conns: usize,
    secs: u64,
    req: impl Fn(&ureq::Agent) -> u64 + Send + Sync + 'static,
) -> (u64, u64, f64) {
    let req = Arc::new(req);
    let bytes = Arc::new(AtomicU64::new(0));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let handles: Vec<_> = (0..conns)
        .map(|_| {
            let (req, bytes, count) = (req.clone(), bytes.clone(), count.clone());
            std::thread::spawn(move || {
                let agent = agent();
                while Instant::now() < deadline {
                    bytes.fetch_add(req(&agent), Ordering::Relaxed);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
    (
        count.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64(),
    )
}

fn bench_downloads(o: &Opts, size_mib: usize) {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let token;
    let bin = image("2.0.0", size_mib << 20, 7);
    {
        let config = Config::for_data_dir(&data);
        std::fs::create_dir_all(&data).expect("data");
        let db = Db::open(&config.db_path).expect("db");
        let layout = Layout::new(config.coredumps_dir.clone(), config.assets_dir.clone());
        layout.create_dirs().expect("dirs");
        crashbox::fleet::models::create(&db, "bench", None, &crashbox::audit::Actor::Cli)
            .expect("model");
        token = crashbox::fleet::devices::create(&db, "bench", None, &crashbox::audit::Actor::Cli)
            .expect("device")
            .token;
        service::upload(
            &db,
            &layout,
            &config,
            &Jobs::disabled(),
            "bench",
            &bin,
            &crashbox::audit::Actor::Cli,
        )
        .expect("upload");
    }
    let etag = format!("\"{}\"", service::sha256_hex(&bin));
    let server = start_server(&data);
    let pid = server.child.id();
    let idle = proc_status(pid, "VmRSS:");
    let url = format!("{}/api/iot/firmware", server.base);

    let (u, t, e) = (url.clone(), token.clone(), etag.clone());
    let (n, _, secs) = load(o.conns, o.secs, move |a| {
        let r = a
            .get(&u)
            .header("Authorization", format!("Bearer {t}"))
            .header("If-None-Match", &e)
            .call()
            .expect("request");
        assert_eq!(r.status(), 304);
        0
    });
    let rps_304 = n as f64 / secs;

    let (u, t, len) = (url.clone(), token.clone(), bin.len() as u64);
    let (srv0, cli0) = (cpu_secs(&pid.to_string()), cpu_secs("self"));
    let (n, bytes, secs) = load(o.conns, o.secs, move |a| {
        let mut r = a
            .get(&u)
            .header("Authorization", format!("Bearer {t}"))
            .call()
            .expect("request");
        assert_eq!(r.status(), 200);
        let mut reader = r.body_mut().with_config().limit(u64::MAX).reader();
        let mut buf = vec![0u8; 256 << 10];
        let mut got = 0u64;
        loop {
            let n = reader.read(&mut buf).expect("body");
            if n == 0 {
                break;
            }
            got += n as u64;
        }
        assert_eq!(got, len);
        got
    });
    let mbps = bytes as f64 / secs / 1e6;
    let srv_cpu = cpu_secs(&pid.to_string()) - srv0;
    let cli_cpu = cpu_secs("self") - cli0;
    let peak = proc_status(pid, "VmHWM:");
    println!(
        "image {size_mib} MiB, {} devices: 304s {rps_304:.0} req/s | full downloads {mbps:.0} MB/s ({:.1} downloads/s, {n} in {secs:.1} s; CPU s server {srv_cpu:.1}, client {cli_cpu:.1}) | server RSS idle {:.1} MiB, peak {:.1} MiB",
        o.conns,
        n as f64 / secs,
        idle as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

/// The ceiling: `conns` loopback TCP connections each receiving `size` bytes from memory per
/// "request", read the same way (into a sink).
fn bench_loopback(o: &Opts, size: usize) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let payload = Arc::new(noise(size, 3));
    let conns = o.conns;
    std::thread::spawn(move || {
        for s in listener.incoming().take(conns).flatten() {
            let p = payload.clone();
            std::thread::spawn(move || {
                let mut s = s;
                let mut one = [0u8; 1];
                // One byte asks for one payload.
                while s.read_exact(&mut one).is_ok() {
                    if s.write_all(&p).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.secs);
    let handles: Vec<_> = (0..conns)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).expect("connect");
                let mut buf = vec![0u8; 64 << 10];
                let mut total = 0u64;
                while Instant::now() < deadline {
                    s.write_all(b"x").expect("ask");
                    let mut left = size;
                    while left > 0 {
                        let n = s.read(&mut buf[..left.min(64 << 10)]).expect("read");
                        assert!(n > 0);
                        left -= n;
                    }
                    total += size as u64;
                }
                total
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    println!(
        "loopback TCP ceiling, {conns} connections: {:.0} MB/s",
        total as f64 / start.elapsed().as_secs_f64() / 1e6
    );
}

fn main() {
    let o = opts();
    println!("== validate + store");
    bench_upload();
    println!("== device downloads (server: target/release/crashbox serve, separate process)");
    for &s in &o.sizes {
        bench_downloads(&o, s);
    }
    bench_loopback(&o, 1 << 20);
}
