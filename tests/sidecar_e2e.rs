//! End to end with the real reference sidecar (examples/esp-coredump-sidecar: Espressif's
//! esp-coredump + gdb-multiarch): a firmware bundle around the esp32c3 corpus app ELF, the corpus
//! dump uploaded as the device sends it, and a wait (with a deadline) for the decoded report.
//!
//! Needs `.ci/install-sidecar.sh` (gdb-multiarch, esp-coredump in a venv; the venv's python in
//! `CRASHBOX_SIDECAR_PYTHON`, or the default `target/sidecar-venv`) and `../shared/corpus`.
//! Without them the test says why it skips on stderr (see `tests/support`), and fails under
//! `CI=true`.
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{TestApp, corpus_case, corpus_device_upload, skip};
use crashbox::config::SidecarConfig;

/// The reference sidecar as a child process, killed (by its pid) on drop.
struct RealSidecar {
    child: Child,
    url: String,
    xfer: tempfile::TempDir,
}

impl Drop for RealSidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sidecar_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CRASHBOX_SIDECAR_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sidecar-venv/bin/python");
    default.exists().then_some(default)
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

/// Starts the reference sidecar, or says why not.
fn start_sidecar() -> Result<RealSidecar, String> {
    let python = sidecar_python().ok_or(
        "no esp-coredump venv (run .ci/install-sidecar.sh or set CRASHBOX_SIDECAR_PYTHON)",
    )?;
    let ok = Command::new(&python)
        .args(["-c", "import esp_coredump"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        return Err(format!("{} cannot import esp_coredump", python.display()));
    }
    if !on_path("gdb-multiarch") {
        return Err("gdb-multiarch is not installed".into());
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/esp-coredump-sidecar/sidecar.py");
    let xfer = tempfile::tempdir().expect("xfer dir");
    let mut child = Command::new(&python)
        .arg(&script)
        .arg("--xfer-dir")
        .arg(xfer.path())
        .args(["--bind", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", script.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("sidecar output");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected sidecar output: {line:?}"))
        .to_string();
    Ok(RealSidecar { child, url, xfer })
}

#[test]
fn real_sidecar_decodes_the_esp32c3_corpus_dump() {
    let Some(case) = corpus_case("esp32c3") else {
        return;
    };
    let dump = corpus_device_upload("esp32c3").expect("corpus esp32c3 dump");
    let sidecar = match start_sidecar() {
        Ok(s) => s,
        Err(why) => return skip(&why),
    };
    let elf = std::fs::read(case.join("app.elf")).expect("corpus app.elf");
    let app = TestApp::start_with(|c| {
        c.sidecar = Some(SidecarConfig {
            url: sidecar.url.clone(),
            xfer_dir: sidecar.xfer.path().to_path_buf(),
            timeout: Duration::from_secs(120),
        })
    });
    app.create_model("testapp");
    app.install_bundle("testapp", "1.0.0", &elf);
    let dev = app.create_device("testapp");

    let r = app.upload(&dev, "esp32c3", "1.0.0", &dump);
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["coredump_id"].as_i64().unwrap();
    let d = app.wait_parsed(dev.id, id, Duration::from_secs(180));
    assert_eq!(d["parse_status"], "PARSED", "{d}");
    let report = d["parsed_output"].as_str().unwrap();
    for expected in [
        "Crashed task handle: 0x3fc8ec30, name: 'main'",
        "Panic reason: abort() was called at PC 0x42009351 on core 0",
        "==================== CURRENT THREAD STACK =====================",
        "#0  panic_abort (",
        "in esp_system_abort (",
        "in abort () at /builds/espressif/esp-idf/components/newlib/abort.c:38",
        "in fail_once (unused=<optimized out>) at /Users/erhan/dev/esp-coredump/tests/test_apps/main/test_core_dump.c:14",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in:\n{report}"
        );
    }
    assert_eq!(std::fs::read_dir(sidecar.xfer.path()).unwrap().count(), 0);
    // The built-in decoder's analysis is stored beside the sidecar's text.
    assert_eq!(
        d["analysis"]["crashed_task"]["name"], "main",
        "{}",
        d["analysis"]
    );

    // An Xtensa chip: the sidecar says clearly that it cannot, and crashbox does not retry.
    let r = app.upload(&dev, "esp32", "1.0.0", &dump);
    let id = r.json()["coredump_id"].as_i64().unwrap();
    let d = app.wait_parsed(dev.id, id, Duration::from_secs(60));
    assert_eq!(d["parse_status"], "ERROR");
    let out = d["parsed_output"].as_str().unwrap();
    assert!(
        out.starts_with("Unable to parse coredump: sidecar answered HTTP 422")
            && out.contains("Xtensa"),
        "{out}"
    );
}
