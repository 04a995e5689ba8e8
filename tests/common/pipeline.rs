//! Decode pipeline helpers: a scripted fake parse sidecar (a real HTTP server on 127.0.0.1:0
//! speaking the sidecar protocol over a transfer dir) and firmware bundles.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crashbox::config::{Config, SidecarConfig};

use super::TestApp;

/// One scripted answer of the fake sidecar.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 `{"output": "parsed core=<core> chip=<chip> elf=<elf contents>|<elf contents after
    /// the delay>"}`: the report shows which ELF the sidecar saw, at the start and at the end.
    Echo,
    /// A status and a JSON body.
    Json(u16, String),
    /// A status, content type and body, as is.
    Raw(u16, &'static str, Vec<u8>),
    /// 200 with a body of this many bytes.
    Huge(usize),
    /// Waits, then answers.
    Slow(Duration, Box<Reply>),
}

impl Reply {
    pub fn slow(ms: u64, then: Reply) -> Reply {
        Reply::Slow(Duration::from_millis(ms), Box::new(then))
    }
}

/// A request the fake sidecar received, with the transfer files as they were at that moment.
#[derive(Clone, Debug)]
pub struct Seen {
    pub core: String,
    pub elf: String,
    pub chip: String,
    pub core_bytes: Option<Vec<u8>>,
    pub elf_bytes: Option<Vec<u8>>,
}

#[derive(Default)]
struct Shared {
    script: VecDeque<Reply>,
    default: Option<Reply>,
    seen: Vec<Seen>,
}

pub struct FakeSidecar {
    pub url: String,
    pub xfer: PathBuf,
    _dir: tempfile::TempDir,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl FakeSidecar {
    /// Starts a sidecar that answers the `script` in order, then `Reply::Echo`.
    pub fn start(script: Vec<Reply>) -> FakeSidecar {
        let dir = tempfile::tempdir().expect("xfer dir");
        let xfer = dir.path().join("xfer");
        std::fs::create_dir_all(&xfer).expect("xfer dir");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Mutex::new(Shared {
            script: script.into(),
            ..Shared::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (shared, stop, xfer) = (shared.clone(), stop.clone(), xfer.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (shared, xfer) = (shared.clone(), xfer.clone());
                    std::thread::spawn(move || serve(conn, &shared, &xfer));
                }
            });
        }
        FakeSidecar {
            url: format!("http://{addr}"),
            xfer,
            _dir: dir,
            shared,
            stop,
            addr,
        }
    }

    /// What to answer once the script is used up (default `Reply::Echo`).
    pub fn set_default(&self, reply: Reply) {
        self.shared.lock().unwrap().default = Some(reply);
    }

    /// Appends answers to the script.
    pub fn push(&self, replies: Vec<Reply>) {
        self.shared.lock().unwrap().script.extend(replies);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    /// Points `config` at this sidecar with the given request timeout.
    pub fn configure(&self, config: &mut Config, timeout: Duration) {
        config.sidecar = Some(SidecarConfig {
            url: self.url.clone(),
            xfer_dir: self.xfer.clone(),
            timeout,
        });
    }

    /// Files left in the transfer dir.
    pub fn xfer_files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.xfer)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for FakeSidecar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(conn: TcpStream, shared: &Mutex<Shared>, xfer: &Path) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
        }
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| -> String {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
            .unwrap_or_default()
    };
    let (core, elf, chip) = (param("core"), param("elf"), param("chip"));
    let read = |name: &str| -> Option<Vec<u8>> {
        (!name.is_empty() && !name.contains('/'))
            .then(|| std::fs::read(xfer.join(name)).ok())
            .flatten()
    };
    let seen = Seen {
        core: core.clone(),
        elf: elf.clone(),
        chip: chip.clone(),
        core_bytes: read(&core),
        elf_bytes: read(&elf),
    };
    let reply = {
        let mut s = shared.lock().unwrap();
        s.seen.push(seen.clone());
        s.script
            .pop_front()
            .or_else(|| s.default.clone())
            .unwrap_or(Reply::Echo)
    };
    let reply = if path != "/parse-coredump" {
        Reply::Json(404, r#"{"error":"not found"}"#.into())
    } else {
        reply
    };
    answer(conn, reply, &seen, xfer);
}

fn answer(mut conn: TcpStream, reply: Reply, seen: &Seen, xfer: &Path) {
    let (status, ctype, body) = match reply {
        Reply::Slow(d, then) => {
            std::thread::sleep(d);
            return answer(conn, *then, seen, xfer);
        }
        Reply::Echo => {
            let now = std::fs::read(xfer.join(&seen.elf)).ok();
            let show = |b: &Option<Vec<u8>>| {
                b.as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_else(|| "<missing>".into())
            };
            let out = format!(
                "parsed core={} chip={} elf={}|{}",
                seen.core,
                seen.chip,
                show(&seen.elf_bytes),
                show(&now)
            );
            (
                200,
                "application/json",
                serde_json::json!({ "output": out })
                    .to_string()
                    .into_bytes(),
            )
        }
        Reply::Json(status, body) => (status, "application/json", body.into_bytes()),
        Reply::Raw(status, ctype, body) => (status, ctype, body),
        Reply::Huge(n) => (200, "application/json", vec![b' '; n]),
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
    let _ = conn.flush();
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Firmware bundles

/// A minimal ESP-IDF app image whose `esp_app_desc_t` (at byte 32) carries `version`.
pub fn app_image(version: &str) -> Vec<u8> {
    let mut bin = vec![0u8; 32];
    bin[0] = 0xE9;
    let mut desc = Vec::new();
    desc.extend_from_slice(&0xABCD_5432u32.to_le_bytes());
    desc.extend_from_slice(&[0u8; 12]);
    let field = |s: &str, n: usize| {
        let mut v = s.as_bytes().to_vec();
        v.resize(n, 0);
        v
    };
    desc.extend(field(version, 32));
    desc.extend(field("test_project", 32));
    desc.extend(field("12:00:00", 16));
    desc.extend(field("Jan 01 2024", 16));
    desc.extend(field("v5.0", 32));
    desc.resize(256, 0);
    bin.extend(desc);
    bin
}

/// A firmware bundle ZIP for `code` at `version` around `elf`.
pub fn bundle(code: &str, version: &str, elf: &[u8]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let version_json = serde_json::json!({
            "git_commit": "0123456789abcdef", "idf_version": "v5.0", "firmware_version": version
        })
        .to_string();
        let members: [(String, &[u8]); 5] = [
            (format!("{code}.bin"), &app_image(version)),
            (format!("{code}.elf"), elf),
            (format!("{code}.map"), b"map"),
            ("sdkconfig".into(), b"CONFIG_X=y\n"),
            ("version.json".into(), version_json.as_bytes()),
        ];
        for (name, data) in members {
            z.start_file(name, opts).expect("zip member");
            z.write_all(data).expect("zip write");
        }
        z.finish().expect("zip finish");
    }
    out.into_inner()
}

impl TestApp {
    /// Uploads the bundle of `code` at `version` around `elf` as CI does (the pipeline upload,
    /// which also re-queues the dumps that waited for this bundle).
    pub fn install_bundle(&self, code: &str, version: &str, elf: &[u8]) {
        let r = self.post(
            &format!("/api/pipeline/models/{code}/firmware"),
            Some(&self.pipeline),
            "application/octet-stream",
            &bundle(code, version, elf),
        );
        assert_eq!(r.status, 200, "bundle upload failed: {}", r.text());
    }

    /// The detail JSON of a dump.
    pub fn coredump(&self, device: i64, id: i64) -> serde_json::Value {
        let r = self.get(
            &format!("/api/devices/{device}/coredumps/{id}"),
            Some(&self.admin),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Waits until dump `id` is no longer `PENDING` and returns its detail.
    pub fn wait_parsed(&self, device: i64, id: i64, timeout: Duration) -> serde_json::Value {
        let mut last = serde_json::Value::Null;
        super::wait_for(&format!("coredump {id} to leave PENDING"), timeout, || {
            last = self.coredump(device, id);
            last["parse_status"] != "PENDING"
        });
        last
    }

    /// The value of one sample in `/metrics`, e.g. `crashbox_coredump_parses_total{outcome="parsed"}`.
    pub fn metric(&self, sample: &str) -> f64 {
        let text = self.get("/metrics", None).text();
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
            .unwrap_or(0.0)
    }
}
