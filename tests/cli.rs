//! The command line: management commands, `serve` as a real process (first run, concurrent CLI
//! use, graceful shutdown), configuration errors and backups.
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::cli;
use serde_json::Value;

fn ok_json(out: std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim().lines().count(),
        1,
        "exactly one JSON object: {text}"
    );
    serde_json::from_str(text.trim()).unwrap()
}

#[test]
fn management_commands_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let m = ok_json(cli(
        &data,
        &[
            "model",
            "add",
            "tempsensor",
            "--name",
            "Temperature",
            "--json",
        ],
        None,
    ));
    assert_eq!(m["code"], "tempsensor");
    let d = ok_json(cli(
        &data,
        &["device", "add", "--model", "tempsensor", "--json"],
        None,
    ));
    assert_eq!(d["model"], "tempsensor");
    let key = d["key"].as_str().unwrap();
    assert!(
        key.len() == 8
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
        "{key}"
    );
    assert!(d["token"].as_str().unwrap().len() >= 36);
    assert!(d["id"].is_i64());

    let list = cli(&data, &["device", "list"], None);
    assert!(String::from_utf8_lossy(&list.stdout).contains(key));
    let rotated = ok_json(cli(&data, &["device", "token", key, "--json"], None));
    assert_ne!(rotated["token"], d["token"]);

    let t = ok_json(cli(
        &data,
        &[
            "token", "create", "--role", "pipeline", "--name", "ci", "--json",
        ],
        None,
    ));
    assert_eq!(
        (t["name"].as_str(), t["role"].as_str()),
        (Some("ci"), Some("pipeline"))
    );
    let listed = cli(&data, &["token", "list"], None);
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        listed.contains("ci") && !listed.contains(t["token"].as_str().unwrap()),
        "{listed}"
    );
    assert!(
        cli(&data, &["token", "revoke", &t["id"].to_string()], None)
            .status
            .success()
    );
    assert!(
        !cli(&data, &["token", "revoke", "999"], None)
            .status
            .success()
    );

    // Errors are clear and non-zero.
    let dup = cli(&data, &["model", "add", "tempsensor"], None);
    assert!(!dup.status.success());
    assert!(
        String::from_utf8_lossy(&dup.stderr).contains("DeviceModel for tempsensor already exists")
    );
    let busy = cli(&data, &["model", "rm", "tempsensor"], None);
    assert!(String::from_utf8_lossy(&busy.stderr).contains("associated device(s)"));
    assert!(cli(&data, &["device", "rm", key], None).status.success());
    assert!(
        cli(&data, &["model", "rm", "tempsensor"], None)
            .status
            .success()
    );
}

#[test]
fn invalid_configuration_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_crashbox"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["model", "list"])
        .env("MAX_COREDUMPS", "lots")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MAX_COREDUMPS"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_crashbox"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--bind", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CRASHBOX_BIND"));
    let out = Command::new(env!("CARGO_BIN_EXE_crashbox"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["model", "list"])
        .env("CRASHBOX_LOG", "info,[[[")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CRASHBOX_LOG"));
}

/// A `crashbox serve` child process; killed on drop.
struct Server {
    child: Child,
    addr: String,
    stdout: String,
    log: std::sync::mpsc::Receiver<String>,
    /// The `listening on` log line, as written.
    listening: String,
}

impl Server {
    fn start(data: &std::path::Path) -> Server {
        Server::start_env(data, &[("NO_COLOR", "1")])
    }

    fn start_env(data: &std::path::Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_crashbox"));
        cmd.arg("--data-dir")
            .arg(data)
            .args(["serve", "--bind", "127.0.0.1:0"]);
        Server::spawn(cmd, env)
    }

    /// Starts `cmd` (a `serve` command line) with the test's log settings and `env`.
    fn spawn(mut cmd: Command, env: &[(&str, &str)]) -> Server {
        let mut child = cmd
            // tower_http's debug line "started processing request" tells the test a request
            // is in the server's hands.
            .env("CRASHBOX_LOG", "info,tower_http=debug")
            .env_remove("NO_COLOR")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Server {
            child,
            addr: String::new(),
            stdout: String::new(),
            log: rx,
            listening: String::new(),
        };
        let line = server.wait_line("listening on ");
        server.listening = line.clone();
        let addr = line.split("listening on ").nth(1).unwrap_or_default();
        server.addr = addr
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        server
    }

    /// Waits (with a deadline) for a log line containing `needle`.
    fn wait_line(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no log line with {needle:?}: {e}"),
            }
        }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut self.stdout);
        }
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_first_run_cli_alongside_and_graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let pw_file = data.join("initial-admin-password");
    let password = std::fs::read_to_string(&pw_file).unwrap();
    assert!(password.trim().len() >= 16);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&pw_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // The CLI works on the same data dir while serve runs.
    ok_json(cli(&data, &["model", "add", "m", "--json"], None));
    let dev = ok_json(cli(
        &data,
        &["device", "add", "--model", "m", "--json"],
        None,
    ));
    let token = dev["token"].as_str().unwrap();

    // An upload in flight when SIGTERM arrives still completes.
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST /api/iot/coredump?chip=esp32&firmware_version=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello"
    )
    .unwrap();
    s.flush().unwrap();
    // Signal only once the server is processing the request (before that it could still sit
    // in the listen backlog, which a stopping server resets).
    server.wait_line("started processing request");
    let dump_dir = data.join("coredumps");
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    server.wait_line("shutting down");
    s.write_all(b"world").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut out = String::new();
    server
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.contains(password.trim()),
        "first run prints the password once"
    );
    let files: Vec<_> = std::fs::read_dir(dump_dir.join(dev["key"].as_str().unwrap()))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);

    // Second start: no new password; passwd removes the first-run file.
    let mut again = Server::start(&data);
    assert!(
        cli(
            &data,
            &["user", "passwd", "admin"],
            Some("a-much-better-password\n")
        )
        .status
        .success()
    );
    assert!(!pw_file.exists());
    assert!(again.terminate().success());
    assert!(!again.stdout.contains("password"), "{}", again.stdout);
}

#[test]
fn passwd_rejects_short_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        &dir.path().join("d"),
        &["user", "passwd", "admin"],
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
}

#[test]
fn backup_copies_database_and_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok_json(cli(&data, &["model", "add", "m", "--json"], None));
    let dev = ok_json(cli(
        &data,
        &["device", "add", "--model", "m", "--json"],
        None,
    ));
    std::fs::create_dir_all(data.join("coredumps/x")).unwrap();
    std::fs::write(data.join("coredumps/x/coredump_1.dmp"), b"dump").unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(978_307_200);
    std::fs::File::options()
        .write(true)
        .open(data.join("coredumps/x/coredump_1.dmp"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    // A bundle and the decoder's files derived from it (rebuilt at start-up, not backed up).
    std::fs::create_dir_all(data.join("assets/m")).unwrap();
    for name in ["firmware-1.0.zip", "firmware-1.0.idx", "firmware-1.0.elf"] {
        std::fs::write(data.join("assets/m").join(name), b"x").unwrap();
    }
    let dest = dir.path().join("backup");
    let out = cli(&data, &["backup", dest.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(dest.join("crashbox.db")).unwrap();
    let key: String = conn
        .query_row("SELECT key FROM devices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(key, dev["key"]);
    let tar = Command::new("tar")
        .arg("-tf")
        .arg(dest.join("blobs.tar"))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&tar.stdout);
    assert!(listed.contains("coredumps/x/coredump_1.dmp"), "{listed}");
    assert!(listed.contains("assets/m/firmware-1.0.zip"), "{listed}");
    assert!(!listed.contains("firmware-1.0.idx"), "{listed}");
    assert!(!listed.contains("firmware-1.0.elf"), "{listed}");
    let dump = Command::new("tar")
        .arg("-xOf")
        .arg(dest.join("blobs.tar"))
        .arg("coredumps/x/coredump_1.dmp")
        .output()
        .unwrap();
    assert_eq!(dump.stdout, b"dump");
    // Dumps (read whole and checked, see store::spares) and bundles (streamed) both get
    // deterministic headers: the same owner and time, whatever the files' own.
    let verbose = Command::new("tar")
        .args(["--numeric-owner", "-tvf"])
        .arg(dest.join("blobs.tar"))
        .output()
        .unwrap();
    let verbose = String::from_utf8_lossy(&verbose.stdout);
    let header = |name: &str| -> Vec<String> {
        let line = verbose.lines().find(|l| l.ends_with(name)).unwrap();
        let f: Vec<&str> = line.split_whitespace().collect();
        vec![f[1].to_string(), f[3].to_string(), f[4].to_string()]
    };
    assert_eq!(
        header("coredump_1.dmp"),
        header("firmware-1.0.zip"),
        "{verbose}"
    );
}

/// Issue 14: the data folder is 0700 and the database (with its -wal and -shm) 0600, also
/// under a umask that would leave them open to everyone.
#[cfg(unix)]
#[test]
fn data_dir_and_database_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000; exec "$0" --data-dir "$1" model list"#)
        .arg(env!("CARGO_BIN_EXE_crashbox"))
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("crashbox.db")), 0o600);
    // While a server runs, its -wal and -shm are there: they get the database's mode.
    let app = common::TestApp::start();
    assert_eq!(mode(&app.config.data_dir), 0o700);
    for f in ["crashbox.db", "crashbox.db-wal", "crashbox.db-shm"] {
        assert_eq!(mode(&app.config.data_dir.join(f)), 0o600, "{f}");
    }
}

/// Issue 14: logs to a pipe (journald, a file) carry no ANSI colour codes, and a taken address
/// is named in the error.
#[test]
fn logs_to_a_pipe_are_plain_and_a_taken_address_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start_env(&data, &[]);
    assert!(
        !server.listening.contains('\u{1b}'),
        "{:?}",
        server.listening
    );
    let out = Command::new(env!("CARGO_BIN_EXE_crashbox"))
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--bind", &server.addr])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {}", server.addr)),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(server.terminate().success());
}

/// Issue 14: `backup` with the default relative data folder (it used to fail in `tar` and leave
/// a truncated archive), `--verify`, and `restore` into an empty folder — never over one.
#[test]
fn backup_verify_and_restore_with_a_relative_data_dir() {
    let app = common::TestApp::start_with(|c| c.workers = 0);
    app.create_model("m");
    let dev = app.create_device("m");
    assert_eq!(app.upload(&dev, "esp32", "1", &[7u8; 3000]).status, 201);
    let root = app.dir.path().to_path_buf();
    let run = |data: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_crashbox"))
            .current_dir(&root)
            .args(["--data-dir", data])
            .args(args)
            .env_remove("COREDUMPS_DIR")
            .env_remove("ASSETS_DIR")
            .output()
            .unwrap()
    };
    let out = run("data", &["backup", "bk", "--verify"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("verified: database intact, 1 files"),
        "{text}"
    );

    let out = run("restored", &["restore", "bk"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(root.join("restored/crashbox.db")).unwrap();
    let (key, file): (String, String) = conn
        .query_row(
            "SELECT d.key, c.filename FROM coredumps c JOIN devices d ON d.id = c.device_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(key, dev.key);
    let restored = root.join("restored/coredumps").join(&key).join(&file);
    assert_eq!(std::fs::read(&restored).unwrap(), vec![7u8; 3000]);

    // Never over existing data.
    let out = run("restored", &["restore", "bk"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("restore only into an empty data folder"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A damaged archive is found before anything is restored.
    let tar = root.join("bk/blobs.tar");
    let len = std::fs::metadata(&tar).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&tar)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let out = run("third", &["restore", "bk"]);
    assert!(!out.status.success());
    assert!(!root.join("third/crashbox.db").exists());
}

/// Issue 14: `crashbox healthcheck` exits 0 against a healthy server and 1 when nothing
/// answers; `CRASHBOX_METRICS_TOKEN_FILE` gives /metrics its token from a file.
#[test]
fn healthcheck_and_a_metrics_token_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = dir.path().join("metrics-token");
    std::fs::write(&token, "m3trics\n").unwrap();
    let server = Server::start_env(
        &data,
        &[
            ("NO_COLOR", "1"),
            ("CRASHBOX_METRICS_TOKEN_FILE", token.to_str().unwrap()),
        ],
    );
    let check = |bind: &str| {
        Command::new(env!("CARGO_BIN_EXE_crashbox"))
            .args(["healthcheck", "--bind", bind, "--timeout", "5"])
            .output()
            .unwrap()
    };
    let out = check(&server.addr);
    assert!(out.status.success(), "{out:?}");
    // Nothing listens on the server's port once it is gone: 1.
    let addr = server.addr.clone();
    let metrics = |bearer: Option<&str>| {
        let agent = common::agent();
        let mut req = agent.get(format!("http://{addr}/metrics"));
        if let Some(b) = bearer {
            req = req.header("Authorization", format!("Bearer {b}"));
        }
        req.call().unwrap().status().as_u16()
    };
    assert_eq!(metrics(None), 401);
    assert_eq!(metrics(Some("m3trics")), 200);
    drop(server);
    let out = check(&addr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// Issue 14: under systemd (`Type=notify`, contrib/crashbox.service) `serve` says READY=1 once
/// it listens, pings the watchdog, and says STOPPING=1 at SIGTERM. The test plays systemd's
/// notification socket.
#[cfg(target_os = "linux")]
#[test]
fn serve_speaks_systemds_notify_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // systemd names the watched process in WATCHDOG_PID: the shell's pid is serve's after exec.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"WATCHDOG_PID=$$ exec "$0" --data-dir "$1" serve --bind 127.0.0.1:0"#)
        .arg(env!("CARGO_BIN_EXE_crashbox"))
        .arg(dir.path().join("data"));
    let mut server = Server::spawn(
        cmd,
        &[
            ("NO_COLOR", "1"),
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "300000"),
        ],
    );
    let mut seen = String::new();
    let wait_for_message = |seen: &mut String, what: &str| {
        let mut buf = [0u8; 1024];
        while !seen.contains(what) {
            let n = sock
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no {what} from serve ({e}); got {seen:?}"));
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            seen.push('\n');
        }
    };
    wait_for_message(&mut seen, "READY=1");
    assert!(
        seen.contains(&format!("STATUS=listening on {}", server.addr)),
        "{seen}"
    );
    wait_for_message(&mut seen, "WATCHDOG=1");
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    wait_for_message(&mut seen, "STOPPING=1");
    assert!(server.child.wait().unwrap().success());
}
