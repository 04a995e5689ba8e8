//! Upload load generator. First measures the disk's durable-write ceiling on the data dir's
//! file system: `--ceiling-threads` threads (default 16) each writing a file of the upload's
//! size, fsyncing it, renaming it into place and fsyncing the folder, as fast as they can, for
//! `--ceiling-seconds` (default 5; 0 skips it). Then starts `crashbox serve` (the release binary)
//! on that data dir, creates devices with the CLI, posts core dumps
//! from N concurrent keep-alive clients, measures the ceiling again (the run's churn of files
//! changes it: see docs/performance.md#uploads), and reports uploads/s (and as a share of the
//! mean ceiling, and of each), latency percentiles, CPU per upload (server user/system, the load
//! tool) with the machine's CPU split, the server's RSS (idle, peak under load) and its
//! group-commit counters (writes per commit, commits without a WAL fsync, fsynced commits per
//! upload; from `/metrics`). The data dir is a temp dir: set `TMPDIR` to measure another file
//! system.
//!
//! ```text
//! cargo build --release && cargo run --release --example loadgen -- [--clients 16] [--devices 64]
//!     [--body-kib 64] [--seconds 10] [--max-coredumps 20] [--ceiling-seconds 5]
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Args {
    clients: usize,
    devices: usize,
    body_kib: usize,
    seconds: u64,
    max_coredumps: u32,
    bin: String,
    ceiling_seconds: u64,
    ceiling_threads: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        clients: 16,
        devices: 64,
        body_kib: 64,
        seconds: 10,
        max_coredumps: 20,
        bin: "target/release/crashbox".into(),
        ceiling_seconds: 5,
        ceiling_threads: 16,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < argv.len() {
        let v = &argv[i + 1];
        match argv[i].as_str() {
            "--clients" => a.clients = v.parse().expect("--clients"),
            "--devices" => a.devices = v.parse().expect("--devices"),
            "--body-kib" => a.body_kib = v.parse().expect("--body-kib"),
            "--seconds" => a.seconds = v.parse().expect("--seconds"),
            "--max-coredumps" => a.max_coredumps = v.parse().expect("--max-coredumps"),
            "--bin" => a.bin = v.clone(),
            "--ceiling-seconds" => a.ceiling_seconds = v.parse().expect("--ceiling-seconds"),
            "--ceiling-threads" => a.ceiling_threads = v.parse().expect("--ceiling-threads"),
            other => panic!("unknown flag {other}"),
        }
        i += 2;
    }
    a
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU time (user, system) in seconds that process `pid` (or `self`) has used.
fn cpu_seconds(pid: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let tick = 100.0; // USER_HZ on Linux
    (
        f.get(11).copied().unwrap_or(0.0) / tick,
        f.get(12).copied().unwrap_or(0.0) / tick,
    )
}

/// The machine's (idle + iowait, steal, total) CPU ticks from `/proc/stat`.
fn machine_ticks() -> (f64, f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let at = |i: usize| cpu.get(i).copied().unwrap_or(0.0);
    // user nice system idle iowait irq softirq steal guest guest_nice; guests are in user.
    (at(3) + at(4), at(7), (0..8).map(at).sum())
}

/// Durable file writes per second that `threads` threads reach in `dir`: each writes `size`
/// bytes to a temporary file, fsyncs it, renames it into place and fsyncs the folder — the
/// file side of an upload, without HTTP or SQLite.
fn disk_ceiling(dir: &std::path::Path, threads: usize, size: usize, seconds: u64) -> f64 {
    use std::io::Write;
    std::fs::create_dir_all(dir).expect("ceiling dir");
    let body = Arc::new(vec![0x5au8; size]);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (dir, body, stop) = (dir.to_path_buf(), body.clone(), stop.clone());
            std::thread::spawn(move || {
                let folder = std::fs::File::open(&dir).expect("open folder");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let tmp = dir.join(format!(".t{t}-{n}"));
                    let dst = dir.join(format!("d{t}-{}", n % 20));
                    let mut f = std::fs::File::create(&tmp).expect("create");
                    f.write_all(&body).expect("write");
                    f.sync_all().expect("fsync");
                    std::fs::rename(&tmp, &dst).expect("rename");
                    folder.sync_all().expect("fsync folder");
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let done: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let rate = done as f64 / start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(dir);
    rate
}

/// A sample's value from an OpenMetrics text, e.g. `crashbox_db_commits`.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    let args = parse_args();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let ceiling = (args.ceiling_seconds > 0).then(|| {
        disk_ceiling(
            &data.join("ceiling"),
            args.ceiling_threads,
            args.body_kib * 1024,
            args.ceiling_seconds,
        )
    });
    if let Some(c) = ceiling {
        println!(
            "disk ceiling: {c:.0} durable writes/s ({} threads: write {} KiB, fsync, rename, fsync folder; {} s)",
            args.ceiling_threads, args.body_kib, args.ceiling_seconds
        );
    }
    let cli = |a: &[&str]| -> serde_json::Value {
        let out = Command::new(&args.bin)
            .arg("--data-dir")
            .arg(&data)
            .args(a)
            .output()
            .expect("run crashbox");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    };
    cli(&["model", "add", "bench", "--json"]);
    let tokens: Vec<String> = (0..args.devices)
        .map(|_| {
            cli(&["device", "add", "--model", "bench", "--json"])["token"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();

    let mut child = Command::new(&args.bin)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("MAX_COREDUMPS", args.max_coredumps.to_string())
        .env("CRASHBOX_LOG", "warn,crashbox::app=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let pid = child.id();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve exited").expect("read log");
        if let Some(a) = line.split("listening on ").nth(1) {
            break a.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = status_kib(pid, "VmRSS:");

    let body: Arc<Vec<u8>> = Arc::new(
        (0..args.body_kib * 1024)
            .map(|i| (i * 31 % 251) as u8)
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let tokens = Arc::new(tokens);
    let (server_cpu0, own_cpu0, machine0) = (
        cpu_seconds(&pid.to_string()),
        cpu_seconds("self"),
        machine_ticks(),
    );
    let start = Instant::now();
    let workers: Vec<_> = (0..args.clients)
        .map(|c| {
            let (body, stop, tokens, addr) = (body.clone(), stop.clone(), tokens.clone(), addr.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut n = c;
                while !stop.load(Ordering::Relaxed) {
                    let token = &tokens[n % tokens.len()];
                    n += 7;
                    let t = Instant::now();
                    let r = agent
                        .post(format!("http://{addr}/api/iot/coredump?chip=esp32c3&firmware_version=v1.0.0-bench"))
                        .header("Authorization", format!("Bearer {token}"))
                        .header("Content-Type", "application/octet-stream")
                        .send(&body[..]);
                    // The answer is read to its end, or the connection is not reused.
                    let created = r.is_ok_and(|mut resp| {
                        let _ = resp.body_mut().read_to_vec();
                        resp.status().as_u16() == 201
                    });
                    match created {
                        true => lat.push(t.elapsed()),
                        false => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut peak_rss = 0;
    while start.elapsed() < Duration::from_secs(args.seconds) {
        std::thread::sleep(Duration::from_millis(100));
        peak_rss = peak_rss.max(status_kib(pid, "VmRSS:"));
    }
    stop.store(true, Ordering::Relaxed);
    let (server_cpu1, own_cpu1, machine1) = (
        cpu_seconds(&pid.to_string()),
        cpu_seconds("self"),
        machine_ticks(),
    );
    let stats = ureq::get(format!("http://{addr}/metrics"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let mut lat = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.join().unwrap();
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let hwm = status_kib(pid, "VmHWM:");
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let (mut files, mut spares) = (0, 0);
    for folder in std::fs::read_dir(data.join("coredumps"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for f in std::fs::read_dir(folder.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            match crashbox::store::Layout::is_temp_file_name(&f.file_name().to_string_lossy()) {
                true => spares += 1,
                false => files += 1,
            }
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    // The ceiling again, now that the file system carries crashbox's churn too: the two
    // bracket the run.
    let ceiling_after = ceiling.map(|_| {
        disk_ceiling(
            &data.join("ceiling-after"),
            args.ceiling_threads,
            args.body_kib * 1024,
            args.ceiling_seconds,
        )
    });

    println!(
        "clients={} devices={} body={} KiB max_coredumps={} duration={:.1}s",
        args.clients, args.devices, args.body_kib, args.max_coredumps, elapsed
    );
    let rate = lat.len() as f64 / elapsed;
    println!("uploads ok={} errors={errors} rate={rate:.0}/s", lat.len());
    if let (Some(before), Some(after)) = (ceiling, ceiling_after) {
        println!(
            "share of the disk ceiling: {:.0} % (ceiling {before:.0}/s before the run, {after:.0}/s \
             after it: {:.0} % / {:.0} %)",
            100.0 * rate / ((before + after) / 2.0),
            100.0 * rate / before,
            100.0 * rate / after
        );
    }
    let ok = lat.len().max(1) as f64;
    let (su, ss) = (server_cpu1.0 - server_cpu0.0, server_cpu1.1 - server_cpu0.1);
    let own = (own_cpu1.0 + own_cpu1.1) - (own_cpu0.0 + own_cpu0.1);
    let ticks = (machine1.2 - machine0.2).max(1.0);
    let (idle, steal) = (
        (machine1.0 - machine0.0) / ticks,
        (machine1.1 - machine0.1) / ticks,
    );
    // Of the machine's CPU time: the server, the load tool, and everything else (kernel
    // threads flushing and completing I/O, other tenants' processes).
    let capacity = ticks / 100.0;
    let (server_share, own_share) = ((su + ss) / capacity, own / capacity);
    println!(
        "CPU per upload: server {:.2} ms (user {:.2}, system {:.2}), load tool {:.2} ms; \
         machine: server {:.0} %, load tool {:.0} %, other {:.0} %, idle {:.0} % (iowait \
         included), steal {:.0} %",
        1000.0 * (su + ss) / ok,
        1000.0 * su / ok,
        1000.0 * ss / ok,
        1000.0 * own / ok,
        100.0 * server_share,
        100.0 * own_share,
        100.0 * (1.0 - server_share - own_share - idle - steal).max(0.0),
        100.0 * idle,
        100.0 * steal
    );
    if let (Some(w), Some(c)) = (
        metric(&stats, "crashbox_db_writes"),
        metric(&stats, "crashbox_db_commits"),
    ) {
        let relaxed = metric(&stats, "crashbox_db_relaxed_commits").unwrap_or(0.0);
        println!(
            "database: {w:.0} writes in {c:.0} commits ({:.1} writes per commit; {relaxed:.0} \
             commits without a WAL fsync; {:.2} fsynced commits per upload)",
            w / c.max(1.0),
            (c - relaxed) / ok
        );
    }
    println!(
        "latency p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(pct(0.99)),
        ms(lat.last().copied().unwrap_or_default())
    );
    println!(
        "server RSS idle={:.1} MiB peak(sampled)={:.1} MiB VmHWM={:.1} MiB",
        idle_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!(
        "dump files left={} (limit {} x {} devices), spare files={}",
        files, args.max_coredumps, args.devices, spares
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
