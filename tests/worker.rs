//! The decode pipeline against a scripted fake sidecar: durable jobs on worker threads, the
//! sidecar protocol (attempts, errors, caps, transfer files), late ELFs, restarts and re-parse.
mod common;

use std::time::Duration;

use common::pipeline::{FakeSidecar, Reply};
use common::{TestApp, TestDevice, wait_for};
use crashbox::config::Config;

const WAIT: Duration = Duration::from_secs(30);

fn start(script: Vec<Reply>, tune: impl FnOnce(&mut Config)) -> (FakeSidecar, TestApp) {
    let sidecar = FakeSidecar::start(script);
    let app = TestApp::start_with(|c| {
        sidecar.configure(c, Duration::from_secs(10));
        tune(c);
    });
    (sidecar, app)
}

/// A model `m` with a bundle for `1.0.0` and one device.
fn fleet(app: &TestApp) -> TestDevice {
    app.create_model("m");
    app.install_bundle("m", "1.0.0", b"ELF-m-1.0.0");
    app.create_device("m")
}

fn upload(app: &TestApp, dev: &TestDevice, fw: &str, body: &[u8]) -> i64 {
    let r = app.upload(dev, "esp32c3", fw, body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["coredump_id"].as_i64().unwrap()
}

#[test]
fn sidecar_success_records_output_and_cleans_transfer_dir() {
    let (sidecar, app) = start(vec![], |_| {});
    let dev = fleet(&app);
    let id = upload(&app, &dev, "1.0.0", b"core-bytes");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "PARSED", "{d}");
    let out = d["parsed_output"].as_str().unwrap();
    assert!(
        out.starts_with("parsed core=crashbox-") && out.contains("chip=esp32c3"),
        "{out}"
    );
    assert!(out.ends_with("elf=ELF-m-1.0.0|ELF-m-1.0.0"), "{out}");
    assert!(d["parsed_at"].as_str().unwrap().ends_with('Z'));

    let seen = sidecar.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.chip, "esp32c3");
    assert_eq!(s.core_bytes.as_deref(), Some(&b"core-bytes"[..]));
    assert_eq!(s.elf_bytes.as_deref(), Some(&b"ELF-m-1.0.0"[..]));
    for name in [&s.core, &s.elf] {
        assert!(
            !name.contains('/') && name.contains(&id.to_string()),
            "{name}"
        );
    }
    assert!(
        sidecar.xfer_files().is_empty(),
        "{:?}",
        sidecar.xfer_files()
    );
    assert_eq!(
        app.metric(r#"crashbox_coredump_parses_total{outcome="parsed"}"#),
        1.0
    );
    assert_eq!(
        app.metric(r#"crashbox_coredump_parse_attempts_total{outcome="ok"}"#),
        1.0
    );
}

#[test]
fn two_failures_then_success() {
    let fail = || Reply::Json(500, r#"{"error":"gdb crashed"}"#.into());
    let (sidecar, app) = start(vec![fail(), fail()], |_| {});
    let dev = fleet(&app);
    let id = upload(&app, &dev, "1.0.0", b"x");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "PARSED", "{d}");
    let seen = sidecar.seen();
    assert_eq!(seen.len(), 3);
    // The same transfer files for every attempt of one job, and gone afterwards.
    assert!(
        seen.iter()
            .all(|s| s.core == seen[0].core && s.elf == seen[0].elf)
    );
    assert!(sidecar.xfer_files().is_empty());
    assert_eq!(
        app.metric(r#"crashbox_coredump_parse_attempts_total{outcome="failed"}"#),
        2.0
    );
}

#[test]
fn three_failures_give_error_naming_the_status() {
    let (sidecar, app) = start(vec![], |_| {});
    sidecar.set_default(Reply::Json(500, r#"{"error":"gdb crashed"}"#.into()));
    let dev = fleet(&app);
    let id = upload(&app, &dev, "1.0.0", b"x");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "ERROR", "{d}");
    let out = d["parsed_output"].as_str().unwrap();
    assert!(
        out.starts_with("Unable to parse coredump: sidecar answered HTTP 500"),
        "{out}"
    );
    assert!(out.ends_with(": gdb crashed"), "{out}");
    assert!(d["parsed_at"].is_string());
    assert_eq!(sidecar.seen().len(), 3);
    assert!(sidecar.xfer_files().is_empty());
    assert_eq!(
        app.metric(r#"crashbox_coredump_parses_total{outcome="error"}"#),
        1.0
    );
}

#[test]
fn non_json_non_object_and_huge_answers_are_failed_attempts() {
    let (sidecar, app) = start(
        vec![
            Reply::Raw(200, "text/plain", b"Stack trace: crash".to_vec()),
            Reply::Json(200, r#"["output"]"#.into()),
            Reply::Huge(9 << 20),
        ],
        |_| {},
    );
    let dev = fleet(&app);
    let id = upload(&app, &dev, "1.0.0", b"x");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "ERROR", "{d}");
    assert_eq!(
        d["parsed_output"],
        "Unable to parse coredump: sidecar answer is larger than 8388608 bytes"
    );
    assert_eq!(sidecar.seen().len(), 3);
    assert!(sidecar.xfer_files().is_empty());

    // Each kind on its own, as the last attempt.
    for (bad, expect) in [
        (
            Reply::Raw(200, "text/plain", b"Stack trace".to_vec()),
            "Unable to parse coredump: sidecar answer is not JSON",
        ),
        (
            Reply::Json(200, r#"["output"]"#.into()),
            "Unable to parse coredump: sidecar answer is not a JSON object: an array",
        ),
    ] {
        sidecar.push(vec![bad.clone(), bad.clone(), bad]);
        let id = upload(&app, &dev, "1.0.0", b"y");
        let d = app.wait_parsed(dev.id, id, WAIT);
        let out = d["parsed_output"].as_str().unwrap();
        assert!(out.starts_with(expect), "{out}");
    }
}

#[test]
fn a_client_error_is_not_retried() {
    let (sidecar, app) = start(
        vec![Reply::Json(
            422,
            r#"{"error":"esp32 is an Xtensa chip and no Xtensa gdb is installed"}"#.into(),
        )],
        |_| {},
    );
    let dev = fleet(&app);
    let id = upload(&app, &dev, "1.0.0", b"x");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "ERROR");
    let out = d["parsed_output"].as_str().unwrap();
    assert!(
        out.contains("HTTP 422") && out.contains("no Xtensa gdb"),
        "{out}"
    );
    assert_eq!(sidecar.seen().len(), 1);
}

#[test]
fn timeout_is_a_failed_attempt() {
    let sidecar = FakeSidecar::start(vec![]);
    sidecar.set_default(Reply::slow(5_000, Reply::Echo));
    let app = TestApp::start_with(|c| sidecar.configure(c, Duration::from_millis(300)));
    let dev = fleet(&app);
    let id = upload(&app, &dev, "1.0.0", b"x");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "ERROR", "{d}");
    let out = d["parsed_output"].as_str().unwrap();
    assert!(
        out.starts_with("Unable to parse coredump: sidecar request timed out after 0.3s"),
        "{out}"
    );
    assert_eq!(sidecar.seen().len(), 3);
    assert!(sidecar.xfer_files().is_empty());
}

#[test]
fn unreachable_sidecar_gives_error() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let xfer = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(|c| {
        c.sidecar = Some(crashbox::config::SidecarConfig {
            url: format!("http://127.0.0.1:{port}"),
            xfer_dir: xfer.path().to_path_buf(),
            timeout: Duration::from_secs(5),
        })
    });
    let dev = fleet(&app);
    let id = upload(&app, &dev, "1.0.0", b"x");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "ERROR");
    let out = d["parsed_output"].as_str().unwrap();
    assert!(
        out.starts_with("Unable to parse coredump: ") && out.contains(&port.to_string()),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(xfer.path()).unwrap().count(), 0);
}

#[test]
fn missing_bundle_is_an_error_without_sidecar_call_and_a_late_bundle_requeues() {
    let (sidecar, app) = start(vec![], |_| {});
    let dev = fleet(&app);
    let id = upload(&app, &dev, "9.9.9", b"x");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "ERROR");
    assert_eq!(
        d["parsed_output"],
        "Unable to parse coredump: firmware ZIP not found for m version 9.9.9"
    );
    assert!(sidecar.seen().is_empty(), "the sidecar must not be called");

    // The bundle arrives later: its upload re-queues the dumps that waited for it.
    app.install_bundle("m", "9.9.9", b"ELF-m-9.9.9");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "PARSED", "{d}");
    assert!(
        d["parsed_output"]
            .as_str()
            .unwrap()
            .ends_with("elf=ELF-m-9.9.9|ELF-m-9.9.9")
    );
}

#[test]
fn a_dump_whose_file_vanished_is_an_error() {
    let (sidecar, app) = start(vec![], |c| c.workers = 1);
    let dev = fleet(&app);
    // Hold the only worker on a slow first job, so the second dump is still queued when its
    // file is removed behind the server's back.
    sidecar.push(vec![Reply::slow(800, Reply::Echo)]);
    let first = upload(&app, &dev, "1.0.0", b"first");
    wait_for("the first request", WAIT, || sidecar.seen().len() == 1);
    let second = upload(&app, &dev, "1.0.0", b"second");
    for f in app.dump_files(&dev.key) {
        if std::fs::read(&f).unwrap() == b"second" {
            std::fs::remove_file(f).unwrap();
        }
    }
    assert_eq!(
        app.wait_parsed(dev.id, first, WAIT)["parse_status"],
        "PARSED"
    );
    let d = app.wait_parsed(dev.id, second, WAIT);
    let out = d["parsed_output"].as_str().unwrap();
    assert!(
        out.starts_with("Unable to parse coredump: .dmp file not found at /")
            && out.ends_with(".dmp"),
        "{out}"
    );
}

#[test]
fn a_dump_deleted_mid_parse_is_a_quiet_no_op() {
    let (sidecar, app) = start(vec![], |_| {});
    sidecar.set_default(Reply::slow(600, Reply::Echo));
    let dev = fleet(&app);
    let id = upload(&app, &dev, "1.0.0", b"x");
    wait_for("the sidecar request", WAIT, || sidecar.seen().len() == 1);
    let r = app.delete(
        &format!("/api/devices/{}/coredumps/{id}", dev.id),
        Some(&app.admin),
    );
    assert_eq!(r.status, 204);
    wait_for("the dropped result", WAIT, || {
        app.metric(r#"crashbox_coredump_parses_total{outcome="dropped"}"#) == 1.0
    });
    assert!(sidecar.xfer_files().is_empty());
    let r = app.get(
        &format!("/api/devices/{}/coredumps/{id}", dev.id),
        Some(&app.admin),
    );
    assert_eq!(r.status, 404);
    assert_eq!(sidecar.seen().len(), 1, "no retry for a deleted dump");
}

#[test]
fn pending_jobs_survive_a_restart() {
    let (sidecar, app) = start(vec![], |c| c.workers = 1);
    sidecar.set_default(Reply::slow(300, Reply::Echo));
    let dev = fleet(&app);
    let ids: Vec<i64> = (0..6)
        .map(|i| upload(&app, &dev, "1.0.0", format!("dump{i}").as_bytes()))
        .collect();
    wait_for("the first parse", WAIT, || {
        app.coredump(dev.id, ids[0])["parse_status"] == "PARSED"
    });
    let pending = ids
        .iter()
        .filter(|id| app.coredump(dev.id, **id)["parse_status"] == "PENDING")
        .count();
    assert!(pending >= 2, "only {pending} left to stop in the middle of");
    // Stop mid-queue: the worker finishes its current job, the rest stays PENDING.
    let app = app.restart();
    for id in &ids {
        let d = app.wait_parsed(dev.id, *id, WAIT);
        assert_eq!(d["parse_status"], "PARSED", "{d}");
    }
    // Every dump was parsed once: nothing lost, nothing run twice.
    let mut cores: Vec<Vec<u8>> = sidecar
        .seen()
        .into_iter()
        .map(|s| s.core_bytes.unwrap())
        .collect();
    assert_eq!(cores.len(), ids.len(), "each dump sent to the sidecar once");
    cores.sort();
    cores.dedup();
    assert_eq!(cores.len(), ids.len());
    assert!(sidecar.xfer_files().is_empty());
}

#[test]
fn a_claim_left_by_a_killed_server_is_picked_up_again() {
    let (sidecar, app) = start(vec![Reply::slow(1500, Reply::Echo)], |c| c.workers = 1);
    let dev = fleet(&app);
    let first = upload(&app, &dev, "1.0.0", b"first");
    wait_for("the first request", WAIT, || sidecar.seen().len() == 1);
    // While the only worker is busy, the second dump gets the claim of a worker of a process
    // that was killed: this server leaves it alone (the claim is fresh)...
    let second = upload(&app, &dev, "1.0.0", b"second");
    let claimed = app
        .state()
        .db
        .conn()
        .unwrap()
        .execute(
            "UPDATE coredumps SET claim_token = 'dead-worker', claimed_at = ?2, parse_runs = 1
             WHERE id = ?1 AND parse_status = 'PENDING' AND claim_token IS NULL",
            rusqlite::params![second, crashbox::db::now()],
        )
        .unwrap();
    assert_eq!(claimed, 1);
    assert_eq!(
        app.wait_parsed(dev.id, first, WAIT)["parse_status"],
        "PARSED"
    );
    assert_eq!(app.coredump(dev.id, second)["parse_status"], "PENDING");
    // ...and the next start picks it up.
    let app = app.restart();
    let d = app.wait_parsed(dev.id, second, WAIT);
    assert_eq!(d["parse_status"], "PARSED", "{d}");
    assert_eq!(sidecar.seen().len(), 2);
}

#[test]
fn concurrent_parses_of_two_versions_do_not_share_transfer_files() {
    let (sidecar, app) = start(vec![], |c| c.workers = 2);
    sidecar.set_default(Reply::slow(500, Reply::Echo));
    let dev = fleet(&app);
    app.install_bundle("m", "2.0.0", b"ELF-m-2.0.0");
    let a = upload(&app, &dev, "1.0.0", b"a");
    let b = upload(&app, &dev, "2.0.0", b"b");
    // Both requests are in flight at once.
    wait_for("two concurrent requests", WAIT, || {
        sidecar.seen().len() == 2
    });
    for (id, elf) in [(a, "ELF-m-1.0.0"), (b, "ELF-m-2.0.0")] {
        let d = app.wait_parsed(dev.id, id, WAIT);
        assert_eq!(d["parse_status"], "PARSED");
        let out = d["parsed_output"].as_str().unwrap();
        assert!(out.ends_with(&format!("elf={elf}|{elf}")), "{out}");
    }
    let seen = sidecar.seen();
    assert_ne!(seen[0].elf, seen[1].elf);
    assert_ne!(seen[0].core, seen[1].core);
    assert!(sidecar.xfer_files().is_empty());
}

#[test]
fn a_re_uploaded_bundle_replaces_the_elf_of_its_version() {
    let (_sidecar, app) = start(vec![], |_| {});
    let dev = fleet(&app);
    let first = upload(&app, &dev, "1.0.0", b"a");
    let d = app.wait_parsed(dev.id, first, WAIT);
    assert!(
        d["parsed_output"]
            .as_str()
            .unwrap()
            .ends_with("elf=ELF-m-1.0.0|ELF-m-1.0.0")
    );
    // Same version, same size, new ELF (a rebuilt firmware uploaded again).
    app.install_bundle("m", "1.0.0", b"ELF-m-1.0.X");
    let second = upload(&app, &dev, "1.0.0", b"b");
    let d = app.wait_parsed(dev.id, second, WAIT);
    let out = d["parsed_output"].as_str().unwrap();
    assert!(out.ends_with("elf=ELF-m-1.0.X|ELF-m-1.0.X"), "{out}");
}

#[test]
fn reparse_puts_a_dump_back_in_the_queue() {
    let (sidecar, app) = start(vec![Reply::Json(500, "{}".into()); 3], |_| {});
    let dev = fleet(&app);
    let id = upload(&app, &dev, "1.0.0", b"x");
    assert_eq!(app.wait_parsed(dev.id, id, WAIT)["parse_status"], "ERROR");

    let path = format!("/api/devices/{}/coredumps/{id}/reparse", dev.id);
    let r = app.post(&path, Some(&app.admin), "application/json", b"");
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["parse_status"], "PENDING");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "PARSED", "{d}");
    assert_eq!(sidecar.seen().len(), 4);

    // Again, from PARSED.
    let r = app.post(&path, Some(&app.admin), "application/json", b"");
    assert_eq!(r.status, 202);
    wait_for("the second re-parse", WAIT, || sidecar.seen().len() == 5);
    assert_eq!(app.wait_parsed(dev.id, id, WAIT)["parse_status"], "PARSED");
}

#[test]
fn reparse_route_checks_principal_and_ownership() {
    let (_sidecar, app) = start(vec![], |_| {});
    let dev = fleet(&app);
    let other = app.create_device("m");
    let id = upload(&app, &dev, "1.0.0", b"x");
    let path = format!("/api/devices/{}/coredumps/{id}/reparse", dev.id);
    for (token, status) in [
        (None, 401),
        (Some(dev.token.as_str()), 401),
        (Some(app.pipeline.as_str()), 403),
    ] {
        let r = app.post(&path, token, "application/json", b"");
        assert_eq!(r.status, status, "{token:?}: {}", r.text());
    }
    let r = app.post(
        &format!("/api/devices/{}/coredumps/{id}/reparse", other.id),
        Some(&app.admin),
        "application/json",
        b"",
    );
    assert_eq!(
        (r.status, r.error().as_str()),
        (404, format!("Coredump {id} was not found").as_str())
    );
    let r = app.post(
        &format!("/api/devices/{}/coredumps/999999/reparse", dev.id),
        Some(&app.admin),
        "application/json",
        b"",
    );
    assert_eq!(r.status, 404);
    let r = app.post(
        &format!("/api/devices/999999/coredumps/{id}/reparse"),
        Some(&app.admin),
        "application/json",
        b"",
    );
    assert_eq!(
        (r.status, r.error().as_str()),
        (404, "Device 999999 was not found")
    );
}

#[test]
fn cli_reparse_all_errors_is_picked_up_by_the_running_server() {
    let (sidecar, app) = start(vec![Reply::Json(503, "{}".into()); 3], |_| {});
    let dev = fleet(&app);
    let bad = upload(&app, &dev, "1.0.0", b"x");
    assert_eq!(app.wait_parsed(dev.id, bad, WAIT)["parse_status"], "ERROR");
    let good = upload(&app, &dev, "1.0.0", b"y");
    assert_eq!(
        app.wait_parsed(dev.id, good, WAIT)["parse_status"],
        "PARSED"
    );

    let out = app.cli(&["coredump", "reparse", "--all-errors", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, serde_json::json!({"count": 1, "requeued": [bad]}));
    // No channel from the CLI to the server: its sweeper finds the row.
    let d = app.wait_parsed(dev.id, bad, WAIT);
    assert_eq!(d["parse_status"], "PARSED", "{d}");

    let out = app.cli(&["coredump", "reparse", &good.to_string()]);
    assert!(out.status.success());
    wait_for("the re-parse of one id", WAIT, || sidecar.seen().len() == 6);
    let out = app.cli(&["coredump", "reparse", "424242"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("424242"));
}

/// Without a sidecar the built-in decoder decides: `PARSED` with its report, or `ERROR` with its
/// reason; the analysis is stored either way.
#[test]
fn without_sidecar_the_builtin_decoder_decides() {
    let app = TestApp::start();
    let dev = fleet(&app);
    // Not a core dump at all: the decoder's reason.
    let id = upload(&app, &dev, "1.0.0", b"garbage");
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "ERROR", "{d}");
    let out = d["parsed_output"].as_str().unwrap();
    assert!(out.starts_with("Unable to parse coredump: "), "{out}");
    let Some(case) = common::corpus_case("esp32c3") else {
        return;
    };
    let dump = common::corpus_device_upload("esp32c3").unwrap();
    let elf = std::fs::read(case.join("app.elf")).unwrap();
    app.install_bundle("m", "3.0.0", &elf);
    let id = upload(&app, &dev, "3.0.0", &dump);
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "PARSED", "{d}");
    let report = d["parsed_output"].as_str().unwrap();
    assert!(
        report.contains("in fail_once (unused=<optimized out>)"),
        "{report}"
    );
    assert!(d["analysis"].is_object());
    // No bundle for the version: the firmware error, with the analysis still stored.
    let id = upload(&app, &dev, "4.0.0", &dump);
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(
        d["parsed_output"],
        "Unable to parse coredump: firmware ZIP not found for m version 4.0.0"
    );
    assert!(d["analysis"].is_object());
}

/// Issue 14: re-parse must not destroy a good report when the version's bundle is gone
/// (pruned by retention): it is refused and the report kept, from the API and the CLI.
#[test]
fn reparse_keeps_a_decoded_report_when_the_bundle_is_gone() {
    let (_sidecar, app) = start(vec![], |_| {});
    let dev = fleet(&app);
    let id = upload(&app, &dev, "1.0.0", b"x");
    let before = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(before["parse_status"], "PARSED", "{before}");
    let bundle = app.config.assets_dir.join("m/firmware-1.0.0.zip");
    std::fs::remove_file(&bundle).unwrap();

    let path = format!("/api/devices/{}/coredumps/{id}/reparse", dev.id);
    let r = app.post(&path, Some(&app.admin), "application/json", b"");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["code"], "INVALID_OPERATION");
    assert!(
        r.error().contains("its decoded report is kept"),
        "{}",
        r.error()
    );
    let out = app.cli(&["coredump", "reparse", &id.to_string()]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is no longer stored"),
        "{out:?}"
    );
    let after = app.coredump(dev.id, id);
    assert_eq!(after["parse_status"], "PARSED");
    assert_eq!(after["parsed_output"], before["parsed_output"]);
}
