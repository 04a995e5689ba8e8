//! `crashbox decode` and `crashbox sidecar`: the built-in decoder from the command line and
//! behind the parse-sidecar protocol. Synthetic dumps (no corpus needed), plus the corpus
//! esp32c3 case when `../shared/corpus` is present.
mod common;
mod decode_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use decode_support::*;

fn crashbox(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crashbox"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        // The process may fail (a bad option) and exit before it reads its input.
        match child.stdin.take().unwrap().write_all(input) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            r => r.unwrap(),
        }
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn synthetic() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let app = xtensa_app();
    let core = xtensa_core(&sha256_hex(&app)[..9]);
    std::fs::write(dir.path().join("app.elf"), &app).unwrap();
    std::fs::write(dir.path().join("core.elf"), &core).unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let (elf, core) = (p("app.elf"), p("core.elf"));
    (dir, elf, core)
}

#[test]
fn decode_prints_the_report_and_json() {
    let (_dir, elf, core) = synthetic();
    let out = crashbox(&["decode", "--elf", &elf, &core, "--chip", "esp32"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ESP32 CORE DUMP START"), "{text}");
    assert!(
        text.contains("in func_a ()") && text.contains("in func_b ()"),
        "{text}"
    );

    let out = crashbox(&["decode", "--elf", &elf, &core, "--json"], None);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["tasks"].as_array().is_some_and(|t| !t.is_empty()), "{v}");

    // From stdin.
    let bytes = std::fs::read(&core).unwrap();
    let out = crashbox(&["decode", "--elf", &elf, "-"], Some(&bytes));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("func_a"));

    // The ELF from a pipe (`--elf <(unzip -p fw.zip app.elf)`), which cannot be mapped: read.
    #[cfg(unix)]
    {
        let app = std::fs::read(&elf).unwrap();
        let out = crashbox(&["decode", "--elf", "/dev/stdin", &core], Some(&app));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("in func_a ()"));
    }
}

#[test]
fn decode_errors_are_clear() {
    let (_dir, elf, _core) = synthetic();
    let out = crashbox(
        &["decode", "--elf", &elf, "-"],
        Some(b"this is not a core dump"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot decode the core dump"));
    let out = crashbox(
        &["decode", "--elf", &elf, "-", "--chip", "esp99"],
        Some(b"x"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown chip"));
    let out = crashbox(
        &["decode", "--elf", "/nonexistent/app.elf", "-"],
        Some(b"x"),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/app.elf"));
}

#[test]
fn decode_matches_the_corpus_backtrace() {
    let Some(case) = common::corpus_case("esp32c3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.elf");
    std::fs::write(&core, common::corpus_device_upload("esp32c3").unwrap()).unwrap();
    let elf = case.join("app.elf");
    let out = crashbox(
        &[
            "decode",
            "--elf",
            elf.to_str().unwrap(),
            core.to_str().unwrap(),
            "--chip",
            "esp32c3",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = std::fs::read_to_string(case.join("expected_output")).unwrap();
    // The crashed task's first frame line of the reference, arguments included (gdb prints
    // frame #0 without an address: `#0  panic_abort (details=...) at file:line`).
    let first = expected.lines().find(|l| l.starts_with("#0 ")).unwrap();
    let ours = text
        .lines()
        .find(|l| l.starts_with("#0 "))
        .unwrap_or_default();
    assert_eq!(ours, first, "first frame line:\n{text}");
    // Past the ROM frame, app_main was found by stack scanning and is named so; with
    // --no-stack-scan the walk stops at the ROM frame as gdb's does.
    assert!(text.contains("#5  0x4200937a in app_main ()"), "{text}");
    assert!(
        text.contains("(crashbox: frame #5 found by stack scanning"),
        "{text}"
    );
    let out = crashbox(
        &[
            "decode",
            "--no-stack-scan",
            "--elf",
            elf.to_str().unwrap(),
            core.to_str().unwrap(),
        ],
        None,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("#4  0x400485e4 in ?? ()\n"), "{text}");
    assert!(!text.contains("app_main"), "{text}");
    assert!(!text.contains("stack scanning"), "{text}");
}

struct Sidecar(std::process::Child, String);

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sidecar(xfer: &std::path::Path) -> Sidecar {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crashbox"))
        .args(["sidecar", "--bind", "127.0.0.1:0", "--xfer-dir"])
        .arg(xfer)
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("sidecar exited").unwrap();
        if let Some(a) = line.split("listening on ").nth(1) {
            break a.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Sidecar(child, format!("http://{addr}"))
}

#[test]
fn sidecar_mode_speaks_the_protocol() {
    let (dir, _, _) = synthetic();
    let side = start_sidecar(dir.path());
    let agent = common::agent();
    let get = |q: &str| {
        let mut r = agent
            .get(format!("{}/parse-coredump?{q}", side.1))
            .call()
            .unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value =
            serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        (status, body)
    };
    let (status, body) = get("core=core.elf&elf=app.elf&chip=esp32");
    assert_eq!(status, 200, "{body}");
    assert!(
        body["output"].as_str().unwrap().contains("in func_a ()"),
        "{body}"
    );
    // Only basenames inside the transfer folder.
    assert_eq!(get("core=../core.elf&elf=app.elf&chip=esp32").0, 400);
    assert_eq!(get("core=%2Fetc%2Fpasswd&elf=app.elf&chip=esp32").0, 400);
    assert_eq!(get("core=missing.dmp&elf=app.elf&chip=esp32").0, 404);
    assert_eq!(get("elf=app.elf").0, 400);
    // A file that is no dump is a failed attempt, not a crash.
    std::fs::write(dir.path().join("junk.dmp"), b"junk").unwrap();
    let (status, body) = get("core=junk.dmp&elf=app.elf&chip=esp32");
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("cannot decode"));
}

/// Issue 14: text from the dump (task names, the panic reason) reaches the terminal escaped,
/// never as raw ESC/BEL sequences.
#[test]
fn decode_escapes_terminal_controls_from_the_dump() {
    let dir = tempfile::tempdir().unwrap();
    let app = xtensa_app();
    let mut core = xtensa_core(&sha256_hex(&app)[..9]);
    let replace = |core: &mut Vec<u8>, from: &[u8], to: &[u8]| {
        let at = core
            .windows(from.len())
            .position(|w| w == from)
            .expect("marker in the synthetic dump");
        core[at..at + to.len()].copy_from_slice(to);
    };
    replace(&mut core, b"IDLE", b"\x1b]0\x07");
    replace(&mut core, b"abort()", b"\x1b[2J\x07()");
    std::fs::write(dir.path().join("app.elf"), &app).unwrap();
    std::fs::write(dir.path().join("core.elf"), &core).unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let out = crashbox(
        &[
            "decode",
            "--elf",
            &p("app.elf"),
            &p("core.elf"),
            "--chip",
            "esp32",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stdout.iter().any(|b| *b == 0x1b || *b == 0x07),
        "raw control bytes in the report"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\\u{1b}[2J\\u{7}()"), "{text}");
}
