//! Helpers shared by the benchmark tools in `examples/` (not an example itself): a
//! deterministic generator, percentiles, CPU time of this process, and serving an app's router
//! on loopback with a signed-in dashboard session.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*), so every run seeds the same data.
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p` percentile (0..1) of sorted samples.
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat` (Linux;
/// `None` elsewhere). On a shared machine wall-clock latency includes waiting for other
/// processes; CPU time per request does not.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the
    // 13th, in clock ticks (100 per second on Linux).
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The 1-minute load average.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Serves `router` on 127.0.0.1:0 with a 2-thread runtime (kept alive by the returned runtime);
/// the base URL.
pub fn serve(router: axum::Router) -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    rt.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (rt, base)
}

/// A session cookie for `admin` with `password` (set it first).
pub fn admin_cookie(db: &crashbox::db::Db, password: &str) -> String {
    let session = crashbox::auth::sessions::login(db, "admin", password)
        .expect("login")
        .expect("valid password");
    format!("crashbox_session={}", session.cookie)
}

/// Times `requests` GETs of `path` (after 20 warm-up requests) with `cookie`; prints p50, p99,
/// max, the page size and the CPU time per request.
pub fn time_page(base: &str, cookie: &str, name: &str, path: &str, requests: usize) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut lat = Vec::with_capacity(requests);
    let mut bytes = 0;
    let mut cpu_start = None;
    for i in 0..requests + 20 {
        if i == 20 {
            cpu_start = cpu_time();
        }
        let t = Instant::now();
        let mut r = agent
            .get(format!("{base}{path}"))
            .header("Cookie", cookie)
            .call()
            .expect("request");
        let body = r.body_mut().read_to_vec().expect("body");
        assert_eq!(
            r.status().as_u16(),
            200,
            "{}",
            String::from_utf8_lossy(&body)
        );
        if i >= 20 {
            lat.push(t.elapsed());
            bytes = body.len();
        }
    }
    let cpu = match (cpu_start, cpu_time()) {
        (Some(a), Some(b)) => format!(", CPU {:.2}ms/request", ms(b - a) / lat.len() as f64),
        _ => String::new(),
    };
    lat.sort();
    println!(
        "{name}: {} requests, {} bytes, p50={:.2}ms p99={:.2}ms max={:.2}ms{cpu}",
        lat.len(),
        bytes,
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default())
    );
}
