//! Configuration: every setting of `crashbox serve` and the management commands, resolved once
//! from CLI flags with environment fallbacks into a [`Config`] that is passed by reference.
//!
//! Every path derives from the data dir unless overridden. Invalid values are a startup error
//! that names the variable; nothing here panics.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// What the user typed (flags or env vars), before validation.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Directory for the database, dumps and firmware.
    #[arg(long, env = "CRASHBOX_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Where stored core dumps live (default: <data dir>/coredumps).
    #[arg(long, env = "COREDUMPS_DIR", global = true)]
    pub coredumps_dir: Option<PathBuf>,
    /// Where firmware bundles live (default: <data dir>/assets).
    #[arg(long, env = "ASSETS_DIR", global = true)]
    pub assets_dir: Option<PathBuf>,
    /// Newest core dumps kept per device.
    #[arg(long, env = "MAX_COREDUMPS", default_value = "20", global = true)]
    pub max_coredumps: String,
    /// Newest firmware versions kept per model.
    #[arg(long, env = "MAX_FIRMWARES", default_value = "5", global = true)]
    pub max_firmwares: String,
    /// Largest accepted firmware bundle in bytes.
    #[arg(
        long,
        env = "CRASHBOX_MAX_BUNDLE_BYTES",
        default_value = "33554432",
        global = true
    )]
    pub max_bundle_bytes: String,
    /// Base URL of an optional parse sidecar (e.g. http://127.0.0.1:8081).
    #[arg(long, env = "PARSE_SIDECAR_URL", global = true)]
    pub parse_sidecar_url: Option<String>,
    /// Directory shared with the parse sidecar.
    #[arg(long, env = "PARSE_SIDECAR_XFER_DIR", global = true)]
    pub parse_sidecar_xfer_dir: Option<PathBuf>,
    /// Timeout of one sidecar request, in seconds.
    #[arg(
        long,
        env = "PARSE_SIDECAR_TIMEOUT",
        default_value = "120",
        global = true
    )]
    pub parse_sidecar_timeout: String,
    /// Number of parse worker threads (0: no parsing, dumps stay PENDING).
    #[arg(long, env = "CRASHBOX_WORKERS", default_value = "2", global = true)]
    pub workers: String,
    /// Directory of Espressif ROM ELFs (esp-rom-elfs naming) for ROM frames.
    #[arg(long, env = "ESP_ROM_ELF_DIR", global = true)]
    pub rom_elf_dir: Option<PathBuf>,
    /// Mark session cookies `Secure` (set when crashbox is served behind TLS).
    #[arg(
        long,
        env = "CRASHBOX_COOKIE_SECURE",
        default_value = "false",
        global = true
    )]
    pub cookie_secure: String,
    /// Seconds a database write waits for the write lock (another process's transaction, say)
    /// before it fails; the API then answers 503 with Retry-After.
    #[arg(
        long,
        env = "CRASHBOX_DB_BUSY_TIMEOUT",
        default_value = "5",
        global = true
    )]
    pub db_busy_timeout: String,
    /// Days the audit log keeps an entry (0: forever); older entries are pruned every hour.
    #[arg(
        long,
        env = "CRASHBOX_AUDIT_RETENTION_DAYS",
        default_value = "365",
        global = true
    )]
    pub audit_retention_days: String,
    /// Public base URL of this server (e.g. https://crashbox.lab.example), for the links in
    /// notifications; without it, links are omitted.
    #[arg(long, env = "CRASHBOX_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
}

/// Settings only `serve` needs: the listen address and the limits that protect the server from
/// slow and hostile clients (see [`HttpLimits`]; defaults in docs/deploy.md).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CRASHBOX_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Seconds a client has to send a request's headers (also how long an idle keep-alive
    /// connection stays open).
    #[arg(long, env = "CRASHBOX_HEADER_TIMEOUT", default_value = "10")]
    pub header_timeout: String,
    /// Seconds a request body may stall (no bytes arriving) before the request is cut with 408.
    #[arg(long, env = "CRASHBOX_BODY_IDLE_TIMEOUT", default_value = "20")]
    pub body_idle_timeout: String,
    /// Seconds one request may take from its headers to its answer (body upload included).
    #[arg(long, env = "CRASHBOX_REQUEST_TIMEOUT", default_value = "300")]
    pub request_timeout: String,
    /// Seconds a write to a client may stall (the client not reading) before the connection
    /// is closed.
    #[arg(long, env = "CRASHBOX_SEND_TIMEOUT", default_value = "30")]
    pub send_timeout: String,
    /// Open connections at most; more are answered 503 and closed.
    #[arg(long, env = "CRASHBOX_MAX_CONNECTIONS", default_value = "512")]
    pub max_connections: String,
    /// Largest request head (request line and headers) in bytes.
    #[arg(long, env = "CRASHBOX_MAX_HEADER_BYTES", default_value = "16384")]
    pub max_header_bytes: String,
    /// Seconds `serve` waits for in-flight requests after SIGTERM before cutting them.
    #[arg(long, env = "CRASHBOX_SHUTDOWN_TIMEOUT", default_value = "20")]
    pub shutdown_timeout: String,
    /// Firmware bundle uploads processed at the same time; more are answered 503.
    #[arg(long, env = "CRASHBOX_MAX_FIRMWARE_UPLOADS", default_value = "2")]
    pub max_firmware_uploads: String,
    /// Reverse proxies (IPs or CIDR blocks, comma-separated) whose X-Forwarded-For names the
    /// client; from anyone else the header is ignored.
    #[arg(long, env = "CRASHBOX_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Clients (IPs or CIDR blocks, comma-separated) that may read /metrics without a token.
    #[arg(long, env = "CRASHBOX_METRICS_ALLOW", default_value = "")]
    pub metrics_allow: String,
    /// Bearer token that /metrics requires (unless the client is in --metrics-allow).
    #[arg(long, env = "CRASHBOX_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// File whose first line is the /metrics bearer token (instead of --metrics-token).
    #[arg(long, env = "CRASHBOX_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,
}

/// Longest secret file read (a token or password is a line, not a document).
const MAX_SECRET_FILE: u64 = 4096;

/// A secret from the first line of `path` (for the `*_FILE` variables, e.g. a systemd
/// credential or a Docker secret); the error names `name` but never shows the content.
pub fn secret_from_file(name: &'static str, path: &std::path::Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let bad = |reason: String| ConfigError {
        name,
        value: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_SECRET_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| bad(e.to_string()))?;
    if text.len() as u64 > MAX_SECRET_FILE {
        return Err(bad(format!("longer than {MAX_SECRET_FILE} bytes")));
    }
    let line = text.lines().next().unwrap_or_default().trim();
    if line.is_empty() {
        return Err(bad("the first line is empty".into()));
    }
    Ok(line.to_string())
}

/// A list of addresses and CIDR blocks: the reverse proxies whose `X-Forwarded-For` is
/// believed, the clients allowed to read `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct AddrList(Vec<(IpAddr, u8)>);

impl AddrList {
    /// Parses `10.0.0.1, 192.168.0.0/16, ::1` (empty: none). The error names `name`.
    pub fn parse(name: &'static str, list: &str) -> Result<AddrList, ConfigError> {
        let bad = |item: &str, reason: &str| ConfigError {
            name,
            value: item.to_string(),
            reason: reason.to_string(),
        };
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (addr, bits) = item.split_once('/').unwrap_or((item, ""));
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| bad(item, "not an IP address or CIDR block"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = if bits.is_empty() {
                max
            } else {
                bits.parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| bad(item, "bad prefix length"))?
            };
            out.push((ip, bits));
        }
        Ok(AddrList(out))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is in the list.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, bits)| match (canonical(*net), ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => {
                    prefix_eq(u32::from(n).into(), u32::from(a).into(), 32, *bits)
                }
                (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(n.into(), a.into(), 128, *bits),
                _ => false,
            })
    }
}

/// An IPv4-mapped IPv6 address as IPv4 (a dual-stack socket reports those).
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: u128, b: u128, width: u32, bits: u8) -> bool {
    let bits = u32::from(bits).min(width);
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (b >> shift)
}

/// What protects `serve` from slow and hostile clients. Every value is documented with its
/// default in docs/deploy.md; tests set short ones.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Time to receive a request's head; also the keep-alive idle time between requests.
    pub header_timeout: Duration,
    /// Longest stall between two pieces of a request body.
    pub body_idle_timeout: Duration,
    /// Longest time from a request's head to its answer (reading the body included).
    pub request_timeout: Duration,
    /// Longest stall of a write to the client (one that stops reading) before the connection
    /// is closed.
    pub send_timeout: Duration,
    /// Open connections at most; the next one is answered `503` and closed.
    pub max_connections: usize,
    /// Largest request head in bytes: bounds the memory an unfinished head can pin.
    pub max_header_bytes: usize,
    /// Time in-flight requests get after a shutdown signal before their connections are cut.
    pub shutdown_timeout: Duration,
    /// Firmware bundle uploads processed at once; more are answered `503` + `Retry-After`.
    pub max_firmware_uploads: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(300),
            send_timeout: Duration::from_secs(30),
            max_connections: 512,
            max_header_bytes: 16 << 10,
            shutdown_timeout: Duration::from_secs(20),
            max_firmware_uploads: 2,
        }
    }
}

/// hyper's smallest read buffer; a smaller head limit would make it panic.
pub const MIN_HEADER_BYTES: usize = 8192;

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Root directory for the database, dumps and firmware.
    pub data_dir: PathBuf,
    /// The SQLite database file (`<data dir>/crashbox.db`).
    pub db_path: PathBuf,
    /// Where stored core dumps live (default `<data dir>/coredumps`).
    pub coredumps_dir: PathBuf,
    /// Where firmware bundles live (default `<data dir>/assets`).
    pub assets_dir: PathBuf,
    /// Newest core dumps kept per device (0 to 1,000,000).
    pub max_coredumps: u32,
    /// Newest firmware versions kept per model (at least 1).
    pub max_firmwares: u32,
    /// Largest accepted firmware bundle, in bytes.
    pub max_bundle_bytes: u64,
    /// The optional parse sidecar; `None` unless both its URL and transfer dir are set.
    pub sidecar: Option<SidecarConfig>,
    /// Number of parse worker threads (0: no parsing, dumps stay PENDING).
    pub workers: usize,
    /// Directory of Espressif ROM ELFs for ROM frames; `None` when not configured.
    pub rom_elf_dir: Option<PathBuf>,
    /// Whether session cookies are marked `Secure` (served behind TLS).
    pub cookie_secure: bool,
    /// Public base URL without a trailing slash, for links in notifications.
    pub public_url: Option<String>,
    /// Delays before the second, third, … attempt of a notification delivery; a delivery
    /// fails after `notify_retry.len() + 1` attempts.
    pub notify_retry: Vec<Duration>,
    /// Time one delivery attempt may take.
    pub notify_timeout: Duration,
    /// A device's check-in is written at most once per this interval unless its version
    /// changed (default 60 s).
    pub checkin_interval: Duration,
    /// How often queued check-ins are written, in one transaction (default 1 s).
    pub checkin_flush: Duration,
    /// Timeouts and caps of the HTTP server (`serve` flags; defaults elsewhere).
    pub http: HttpLimits,
    /// How long a database write waits for the write lock before it fails as busy.
    pub db_busy_timeout: Duration,
    /// Days the audit log keeps an entry; 0 keeps every entry.
    pub audit_retention_days: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`serve --trusted-proxies`).
    pub trusted_proxies: AddrList,
    /// Who may read `/metrics`; open to all when both parts are empty.
    pub metrics_access: MetricsAccess,
}

/// Who may read `/metrics`: clients in `allow`, or any request with the bearer `token`. With
/// neither set, anyone who can reach the server may (the default bind is 127.0.0.1).
#[derive(Debug, Clone, Default)]
pub struct MetricsAccess {
    /// Clients allowed without a token.
    pub allow: AddrList,
    /// The bearer token that grants access from anywhere.
    pub token: Option<String>,
}

impl MetricsAccess {
    /// Whether neither an address list nor a token restricts `/metrics`.
    pub fn is_open(&self) -> bool {
        self.allow.is_empty() && self.token.is_none()
    }
}

/// The default retry schedule of notification deliveries: 5 attempts over about 28 minutes.
pub const NOTIFY_RETRY: [Duration; 4] = [
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(900),
];

/// Where the optional gdb parse sidecar is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct SidecarConfig {
    /// Base URL, without a trailing slash (e.g. `http://127.0.0.1:8081`).
    pub url: String,
    /// Directory shared with the sidecar; each job copies its dump and app ELF here.
    pub xfer_dir: PathBuf,
    /// Timeout of one sidecar request (1 s to 1 h).
    pub timeout: Duration,
}

/// A configuration value that does not parse; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {value:?} for {name}: {reason}")]
pub struct ConfigError {
    /// The environment variable (or flag) the value came from, e.g. `MAX_COREDUMPS`.
    pub name: &'static str,
    /// The value as given.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

fn parse_num<T>(name: &'static str, value: &str, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    T::Err: std::fmt::Display,
{
    let v: T = value.trim().parse().map_err(|e: T::Err| ConfigError {
        name,
        value: value.to_string(),
        reason: e.to_string(),
    })?;
    if v < min || v > max {
        return Err(ConfigError {
            name,
            value: value.to_string(),
            reason: format!("must be between {min} and {max}"),
        });
    }
    Ok(v)
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError {
            name,
            value: value.to_string(),
            reason: "expected true or false".into(),
        }),
    }
}

fn non_empty(p: Option<PathBuf>) -> Option<PathBuf> {
    p.filter(|p| !p.as_os_str().is_empty())
}

impl ConfigArgs {
    /// Validates the arguments and derives every path from the data dir.
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError {
                name: "CRASHBOX_DATA_DIR",
                value: String::new(),
                reason: "must not be empty".into(),
            });
        }
        let data_dir = self.data_dir.clone();
        let url = self
            .parse_sidecar_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let sidecar = match (url, non_empty(self.parse_sidecar_xfer_dir.clone())) {
            (Some(url), Some(xfer_dir)) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError {
                        name: "PARSE_SIDECAR_URL",
                        value: url.to_string(),
                        reason: "must start with http:// or https://".into(),
                    });
                }
                let secs = parse_num(
                    "PARSE_SIDECAR_TIMEOUT",
                    &self.parse_sidecar_timeout,
                    1u64,
                    3600,
                )?;
                Some(SidecarConfig {
                    url: url.trim_end_matches('/').to_string(),
                    xfer_dir,
                    timeout: Duration::from_secs(secs),
                })
            }
            _ => None,
        };
        let public_url = match self
            .public_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            None => None,
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Some(u.trim_end_matches('/').to_string())
            }
            Some(u) => {
                return Err(ConfigError {
                    name: "CRASHBOX_PUBLIC_URL",
                    value: u.to_string(),
                    reason: "must start with http:// or https://".into(),
                });
            }
        };
        Ok(Config {
            public_url,
            notify_retry: NOTIFY_RETRY.to_vec(),
            notify_timeout: Duration::from_secs(10),
            checkin_interval: Duration::from_secs(60),
            checkin_flush: Duration::from_secs(1),
            http: HttpLimits::default(),
            trusted_proxies: AddrList::default(),
            metrics_access: MetricsAccess::default(),
            audit_retention_days: parse_num(
                "CRASHBOX_AUDIT_RETENTION_DAYS",
                &self.audit_retention_days,
                0u32,
                36_500,
            )?,
            db_busy_timeout: Duration::from_secs(parse_num(
                "CRASHBOX_DB_BUSY_TIMEOUT",
                &self.db_busy_timeout,
                1u64,
                600,
            )?),
            db_path: data_dir.join("crashbox.db"),
            coredumps_dir: non_empty(self.coredumps_dir.clone())
                .unwrap_or_else(|| data_dir.join("coredumps")),
            assets_dir: non_empty(self.assets_dir.clone())
                .unwrap_or_else(|| data_dir.join("assets")),
            max_coredumps: parse_num("MAX_COREDUMPS", &self.max_coredumps, 0u32, 1_000_000)?,
            max_firmwares: parse_num("MAX_FIRMWARES", &self.max_firmwares, 1u32, 1_000_000)?,
            max_bundle_bytes: parse_num(
                "CRASHBOX_MAX_BUNDLE_BYTES",
                &self.max_bundle_bytes,
                1024u64,
                1 << 32,
            )?,
            sidecar,
            workers: parse_num("CRASHBOX_WORKERS", &self.workers, 0usize, 64)?,
            rom_elf_dir: non_empty(self.rom_elf_dir.clone()),
            cookie_secure: parse_bool("CRASHBOX_COOKIE_SECURE", &self.cookie_secure)?,
            data_dir,
        })
    }
}

impl ServeArgs {
    /// Who may read `/metrics` (`CRASHBOX_METRICS_ALLOW`, `CRASHBOX_METRICS_TOKEN`).
    pub fn metrics_access(&self) -> Result<MetricsAccess, ConfigError> {
        let inline = self
            .metrics_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let token = match (&inline, &self.metrics_token_file) {
            (Some(_), Some(file)) => {
                return Err(ConfigError {
                    name: "CRASHBOX_METRICS_TOKEN_FILE",
                    value: file.display().to_string(),
                    reason:
                        "set only one of CRASHBOX_METRICS_TOKEN and CRASHBOX_METRICS_TOKEN_FILE"
                            .into(),
                });
            }
            (_, Some(file)) => Some(secret_from_file("CRASHBOX_METRICS_TOKEN_FILE", file)?),
            (t, None) => t.clone(),
        };
        Ok(MetricsAccess {
            allow: AddrList::parse("CRASHBOX_METRICS_ALLOW", &self.metrics_allow)?,
            token,
        })
    }

    /// The HTTP limits; an error names the variable of a value that does not parse.
    pub fn limits(&self) -> Result<HttpLimits, ConfigError> {
        let secs = |name, v: &str, max| parse_num(name, v, 1u64, max).map(Duration::from_secs);
        Ok(HttpLimits {
            header_timeout: secs("CRASHBOX_HEADER_TIMEOUT", &self.header_timeout, 3600)?,
            body_idle_timeout: secs("CRASHBOX_BODY_IDLE_TIMEOUT", &self.body_idle_timeout, 3600)?,
            request_timeout: secs("CRASHBOX_REQUEST_TIMEOUT", &self.request_timeout, 86_400)?,
            send_timeout: secs("CRASHBOX_SEND_TIMEOUT", &self.send_timeout, 3600)?,
            max_connections: parse_num(
                "CRASHBOX_MAX_CONNECTIONS",
                &self.max_connections,
                1usize,
                1_000_000,
            )?,
            max_header_bytes: parse_num(
                "CRASHBOX_MAX_HEADER_BYTES",
                &self.max_header_bytes,
                MIN_HEADER_BYTES,
                1 << 20,
            )?,
            shutdown_timeout: secs("CRASHBOX_SHUTDOWN_TIMEOUT", &self.shutdown_timeout, 3600)?,
            max_firmware_uploads: parse_num(
                "CRASHBOX_MAX_FIRMWARE_UPLOADS",
                &self.max_firmware_uploads,
                1usize,
                64,
            )?,
        })
    }

    /// The listen address; an error names `CRASHBOX_BIND` when it does not parse.
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.bind
            .trim()
            .parse()
            .map_err(|e: std::net::AddrParseError| ConfigError {
                name: "CRASHBOX_BIND",
                value: self.bind.clone(),
                reason: e.to_string(),
            })
    }
}

impl Config {
    /// A configuration with every default, rooted at `data_dir` (used by tests and tools).
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        let data_dir = data_dir.into();
        Config {
            db_path: data_dir.join("crashbox.db"),
            coredumps_dir: data_dir.join("coredumps"),
            assets_dir: data_dir.join("assets"),
            max_coredumps: 20,
            max_firmwares: 5,
            max_bundle_bytes: 32 << 20,
            sidecar: None,
            workers: 2,
            rom_elf_dir: None,
            cookie_secure: false,
            public_url: None,
            notify_retry: NOTIFY_RETRY.to_vec(),
            notify_timeout: Duration::from_secs(10),
            checkin_interval: Duration::from_secs(60),
            checkin_flush: Duration::from_secs(1),
            http: HttpLimits::default(),
            db_busy_timeout: crate::db::DEFAULT_BUSY_TIMEOUT,
            audit_retention_days: 365,
            trusted_proxies: AddrList::default(),
            metrics_access: MetricsAccess::default(),
            data_dir,
        }
    }
}
