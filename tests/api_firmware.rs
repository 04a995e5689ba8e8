//! Firmware for devices and admins: `GET /api/iot/firmware` (ETag/304, Range/206/416,
//! streaming, fallbacks), `GET /api/iot/firmware-version`, the admin version list, download and
//! delete, `MAX_FIRMWARES` retention with pending dumps, re-queueing dumps that waited for a
//! bundle, the decoder's ELF lookup, model deletion, the CLI, and principals on every route.
mod common;

use common::firmware::{Bundle, corpus_elf, image};
use common::{TestApp, TestDevice};
use crashbox::db::coredumps::{self, NewCoredump, ParseErrorKind, Verdict};
use crashbox::ids::{CoredumpId, DeviceId};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn setup(code: &str) -> (TestApp, TestDevice) {
    let app = TestApp::start();
    app.create_model(code);
    let dev = app.create_device(code);
    (app, dev)
}

/// Seeds a dump row directly (no file, not queued): the state a parse job is in, held still,
/// whatever workers the app runs.
fn seed_dump(
    app: &TestApp,
    device: i64,
    fw: &str,
    verdict: Verdict,
    output: Option<&str>,
) -> CoredumpId {
    let conn = app.state().db.conn().unwrap();
    let ts = crashbox::ids::Timestamp::now();
    let id = coredumps::insert(
        &conn,
        &NewCoredump {
            device_id: DeviceId(device),
            filename: "coredump_seeded.dmp",
            chip: "esp32c3",
            firmware_version: fw,
            size: 10,
            uploaded_at: ts,
        },
    )
    .unwrap();
    coredumps::set_result(&conn, id, verdict, output, None).unwrap();
    id
}

fn dump_detail(app: &TestApp, device: i64, id: CoredumpId) -> Value {
    app.get(
        &format!("/api/devices/{device}/coredumps/{id}"),
        Some(&app.admin),
    )
    .json()
}

#[test]
fn device_downloads_the_current_image_with_etag_and_length() {
    let (app, dev) = setup("ts");
    let bin = image("1.0.0", 5000);
    app.upload_firmware_ok("ts", &bin);
    let r = app.get("/api/iot/firmware", Some(&dev.token));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bin);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(
        r.header("content-disposition").as_deref(),
        Some("attachment; filename=firmware-ts.bin")
    );
    assert_eq!(
        r.header("content-length").as_deref(),
        Some(bin.len().to_string().as_str())
    );
    assert_eq!(r.header("etag"), Some(format!("\"{}\"", sha(&bin))));
    assert_eq!(r.header("accept-ranges").as_deref(), Some("bytes"));

    // A bundle: the device gets its .bin, not the ZIP.
    let b = Bundle::new("ts", "2.0.0");
    app.upload_firmware_ok("ts", &b.zip());
    let r = app.get("/api/iot/firmware", Some(&dev.token));
    assert_eq!(r.body, b.get("ts.bin"));
    assert_eq!(
        r.header("etag"),
        Some(format!("\"{}\"", sha(&b.get("ts.bin"))))
    );
}

#[test]
fn no_firmware_no_token_and_unknown_token() {
    let (app, dev) = setup("ts");
    let r = app.get("/api/iot/firmware", Some(&dev.token));
    assert_eq!(
        (r.status, r.error().as_str()),
        (404, "Firmware ts was not found")
    );
    assert_eq!(app.get("/api/iot/firmware", None).status, 401);
    assert_eq!(
        app.get("/api/iot/firmware", Some("cbxd_invalid1")).status,
        401
    );
    assert_eq!(app.get("/api/iot/firmware-version", None).status, 401);
}

#[test]
fn firmware_version_for_devices() {
    let (app, dev) = setup("ts");
    let r = app.get("/api/iot/firmware-version", Some(&dev.token));
    assert_eq!(r.status, 200);
    // `source` says which rollout rule decided (docs/rollouts.md); without one it is the target.
    assert_eq!(
        r.json(),
        serde_json::json!({"firmware_version": null, "source": "target"})
    );
    app.upload_firmware_ok("ts", &image("7.0.1", 0));
    assert_eq!(
        app.get("/api/iot/firmware-version", Some(&dev.token))
            .json()["firmware_version"],
        "7.0.1"
    );
    // An older version uploaded later becomes current (no monotonic check, as upstream).
    app.upload_firmware_ok("ts", &image("6.0.0", 0));
    assert_eq!(
        app.get("/api/iot/firmware-version", Some(&dev.token))
            .json()["firmware_version"],
        "6.0.0"
    );
}

#[test]
fn if_none_match_gives_304_until_the_firmware_changes() {
    let (app, dev) = setup("ts");
    let bin = image("1.0", 3000);
    app.upload_firmware_ok("ts", &bin);
    let etag = format!("\"{}\"", sha(&bin));
    let r = app.get_with(
        "/api/iot/firmware",
        Some(&dev.token),
        &[("If-None-Match", &etag)],
    );
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.clone()));
    let r = app.get_with(
        "/api/iot/firmware",
        Some(&dev.token),
        &[("If-None-Match", "\"other\", W/\"x\"")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bin);
    let list = format!("\"other\", {etag}");
    let r = app.get_with(
        "/api/iot/firmware",
        Some(&dev.token),
        &[("If-None-Match", &list)],
    );
    assert_eq!(r.status, 304);
    // New firmware: the old ETag no longer matches.
    let newer = image("1.1", 3000);
    app.upload_firmware_ok("ts", &newer);
    let r = app.get_with(
        "/api/iot/firmware",
        Some(&dev.token),
        &[("If-None-Match", &etag)],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, newer);
}

#[test]
fn ranges_give_206_and_416() {
    let (app, dev) = setup("ts");
    // Larger than the 256 KiB read chunk, so ranges and full bodies span several chunks.
    let bin = image("1.0", 700_000);
    let len = bin.len();
    app.upload_firmware_ok("ts", &bin);
    let get =
        |range: &str| app.get_with("/api/iot/firmware", Some(&dev.token), &[("Range", range)]);

    let r = get("bytes=0-99");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &bin[..100]);
    assert_eq!(r.header("content-range"), Some(format!("bytes 0-99/{len}")));
    assert_eq!(r.header("content-length").as_deref(), Some("100"));

    // esp_https_ota's partial download asks for consecutive windows.
    let r = get("bytes=65536-");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &bin[65536..]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 65536-{}/{len}", len - 1))
    );
    let r = get("bytes=-10");
    assert_eq!(r.body, &bin[len - 10..]);
    let r = get(&format!("bytes=1000-{}", len + 500));
    assert_eq!(r.body, &bin[1000..]);
    let r = get("bytes=200000-600000");
    assert_eq!(r.body, &bin[200_000..=600_000]);
    let r = app.get("/api/iot/firmware", Some(&dev.token));
    assert_eq!(r.body, bin);

    let r = get(&format!("bytes={len}-"));
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some(format!("bytes */{len}")));
    // Multiple ranges: the whole file (allowed by RFC 9110).
    let r = get("bytes=0-1,5-9");
    assert_eq!((r.status, r.body.len()), (200, len));
    // If-Range with a stale ETag: the whole file.
    let r = app.get_with(
        "/api/iot/firmware",
        Some(&dev.token),
        &[("Range", "bytes=0-9"), ("If-Range", "\"stale\"")],
    );
    assert_eq!((r.status, r.body.len()), (200, len));
}

#[test]
fn downloads_fall_back_to_the_bundle_and_the_legacy_file() {
    let (app, dev) = setup("ts");
    let b = Bundle::new("ts", "3.0");
    app.upload_firmware_ok("ts", &b.zip());
    // A data dir from before the extracted .bin existed: it is extracted from the bundle.
    std::fs::remove_file(app.asset("ts/firmware-3.0.bin")).unwrap();
    let r = app.get("/api/iot/firmware", Some(&dev.token));
    assert_eq!(r.body, b.get("ts.bin"));
    assert!(app.asset("ts/firmware-3.0.bin").exists(), "stashed");
    // Only the legacy flat file (upstream's layout for raw uploads).
    std::fs::remove_dir_all(app.asset("ts")).unwrap();
    let legacy = image("0.1-legacy", 777);
    std::fs::write(app.asset("firmware-ts.bin"), &legacy).unwrap();
    let r = app.get("/api/iot/firmware", Some(&dev.token));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, legacy);
    assert_eq!(r.header("etag"), Some(format!("\"{}\"", sha(&legacy))));
    std::fs::remove_file(app.asset("firmware-ts.bin")).unwrap();
    assert_eq!(app.get("/api/iot/firmware", Some(&dev.token)).status, 404);
}

#[test]
fn retention_keeps_the_newest_versions() {
    let app = TestApp::start_with(|c| c.max_firmwares = 2);
    app.create_model("ts");
    for v in ["1.0", "2.0", "3.0"] {
        app.upload_firmware_ok("ts", &Bundle::new("ts", v).zip());
    }
    app.upload_firmware_ok("ts", &image("4.0", 0));
    assert_eq!(app.firmware_versions("ts"), ["4.0", "3.0"]);
    for gone in ["1.0", "2.0"] {
        assert!(!app.asset(&format!("ts/firmware-{gone}.zip")).exists());
        assert!(!app.asset(&format!("ts/firmware-{gone}.bin")).exists());
    }
    assert!(app.asset("ts/firmware-3.0.zip").exists());
    // Re-uploading an old version makes it the newest again.
    app.upload_firmware_ok("ts", &Bundle::new("ts", "3.0").zip());
    assert_eq!(app.firmware_versions("ts"), ["3.0", "4.0"]);
}

/// The firmware service on a data dir with no server and so no parse workers: a seeded
/// `PENDING` dump stays pending for as long as the test needs (workers, once running, would
/// decode it within seconds).
struct Direct {
    _dir: tempfile::TempDir,
    config: crashbox::config::Config,
    db: crashbox::db::Db,
    layout: crashbox::store::Layout,
}

impl Direct {
    fn new(max_firmwares: u32) -> Direct {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crashbox::config::Config::for_data_dir(dir.path().join("data"));
        config.max_firmwares = max_firmwares;
        std::fs::create_dir_all(&config.data_dir).unwrap();
        let db = crashbox::db::Db::open(&config.db_path).unwrap();
        let layout =
            crashbox::store::Layout::new(config.coredumps_dir.clone(), config.assets_dir.clone());
        layout.create_dirs().unwrap();
        Direct {
            _dir: dir,
            config,
            db,
            layout,
        }
    }

    fn upload(&self, code: &str, body: &[u8]) -> crashbox::firmware::service::Uploaded {
        let jobs = crashbox::worker::Jobs::disabled();
        crashbox::firmware::service::upload(
            &self.db,
            &self.layout,
            &self.config,
            &jobs,
            code,
            body,
            &crashbox::audit::Actor::Cli,
        )
        .unwrap()
    }

    fn versions(&self, code: &str) -> Vec<String> {
        crashbox::firmware::service::list(&self.db, code)
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect()
    }

    fn dump(&self, device: DeviceId, fw: &str) -> CoredumpId {
        let ts = crashbox::ids::Timestamp::now();
        coredumps::insert(
            &self.db.conn().unwrap(),
            &NewCoredump {
                device_id: device,
                filename: "coredump_seeded.dmp",
                chip: "esp32c3",
                firmware_version: fw,
                size: 10,
                uploaded_at: ts,
            },
        )
        .unwrap()
    }
}

#[test]
fn retention_never_prunes_a_version_a_pending_dump_of_that_model_needs() {
    let d = Direct::new(2);
    crashbox::fleet::models::create(&d.db, "ts", None, &crashbox::audit::Actor::Cli).unwrap();
    crashbox::fleet::models::create(&d.db, "other", None, &crashbox::audit::Actor::Cli).unwrap();
    let dev = crashbox::fleet::devices::create(&d.db, "ts", None, &crashbox::audit::Actor::Cli)
        .unwrap()
        .id;
    let other_dev =
        crashbox::fleet::devices::create(&d.db, "other", None, &crashbox::audit::Actor::Cli)
            .unwrap()
            .id;
    d.upload("ts", &Bundle::new("ts", "1.0").zip());
    let pending = d.dump(dev, "1.0");
    // A pending dump of another model with the same version string protects nothing here.
    d.dump(other_dev, "2.0");
    d.upload("ts", &Bundle::new("ts", "2.0").zip());
    let up = d.upload("ts", &Bundle::new("ts", "3.0").zip());
    assert!(up.pruned.is_empty(), "{:?}", up.pruned);
    assert_eq!(d.versions("ts"), ["3.0", "2.0", "1.0"]);
    let up = d.upload("ts", &image("4.0", 0));
    assert_eq!(up.pruned, ["2.0"]);
    assert_eq!(d.versions("ts"), ["4.0", "3.0", "1.0"]);
    assert!(!d.layout.assets_dir.join("ts/firmware-2.0.zip").exists());
    assert!(
        d.layout.assets_dir.join("ts/firmware-1.0.zip").exists(),
        "protected"
    );
    let elf = crashbox::firmware::elf_for(&d.db, &d.layout, "ts", "1.0").unwrap();
    assert!(elf.is_some(), "the pending dump can still be decoded");

    // Once decoded, the version is no longer needed.
    coredumps::set_result(
        &d.db.conn().unwrap(),
        pending,
        Verdict::Parsed,
        Some("ok"),
        None,
    )
    .unwrap();
    let up = d.upload("ts", &Bundle::new("ts", "5.0").zip());
    assert_eq!(up.pruned, ["3.0", "1.0"]);
    assert_eq!(d.versions("ts"), ["5.0", "4.0"]);
    let mut names: Vec<_> = std::fs::read_dir(d.layout.assets_dir.join("ts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["firmware-4.0.bin", "firmware-5.0.bin", "firmware-5.0.zip"]
    );

    // Every version protected: nothing is pruned.
    for v in ["5.0", "4.0"] {
        d.dump(dev, v);
    }
    d.upload("ts", &image("6.0", 0));
    d.upload("ts", &image("7.0", 0));
    assert_eq!(d.versions("ts"), ["7.0", "6.0", "5.0", "4.0"]);
}

#[test]
fn a_bundle_upload_requeues_dumps_that_waited_for_it() {
    let (app, dev) = setup("ts");
    app.create_model("other");
    let other = app.create_device("other");
    let missing =
        |v: &str| format!("Unable to parse coredump: firmware ZIP not found for ts version {v}");
    let waiting = seed_dump(
        &app,
        dev.id,
        "1.0",
        Verdict::Failed(ParseErrorKind::FirmwareMissing),
        Some(&missing("1.0")),
    );
    let other_version = seed_dump(
        &app,
        dev.id,
        "0.9",
        Verdict::Failed(ParseErrorKind::FirmwareMissing),
        Some(&missing("0.9")),
    );
    let other_error = seed_dump(
        &app,
        dev.id,
        "1.0",
        Verdict::Failed(ParseErrorKind::SidecarFailed),
        Some("Unable to parse coredump: sidecar unreachable"),
    );
    let other_model = seed_dump(
        &app,
        other.id,
        "1.0",
        Verdict::Failed(ParseErrorKind::FirmwareMissing),
        Some(&missing("1.0")),
    );

    // A raw .bin brings no ELF: nothing is re-queued.
    app.upload_firmware_ok("ts", &image("1.0", 0));
    assert_eq!(dump_detail(&app, dev.id, waiting)["parse_status"], "ERROR");

    app.upload_firmware_ok("ts", &Bundle::new("ts", "1.0").zip());
    let d = dump_detail(&app, dev.id, waiting);
    let no_longer_waiting = d["parse_status"] == "PENDING"
        || !d["parsed_output"]
            .as_str()
            .unwrap_or_default()
            .contains("firmware ZIP not found");
    assert!(no_longer_waiting, "re-queued: {d}");
    for (device, id) in [
        (dev.id, other_version),
        (dev.id, other_error),
        (other.id, other_model),
    ] {
        assert_eq!(
            dump_detail(&app, device, id)["parse_status"],
            "ERROR",
            "{id}"
        );
    }
}

#[test]
fn elf_for_returns_the_bundles_elf() {
    let (app, _dev) = setup("ts");
    let elf = corpus_elf();
    app.upload_firmware_ok(
        "ts",
        &Bundle::new("ts", "1.0").set("ts.elf", elf.clone()).zip(),
    );
    app.upload_firmware_ok("ts", &image("2.0-raw", 0));
    let st = app.state();
    let get =
        |code: &str, v: &str| crashbox::firmware::elf_for(&st.db, &st.layout, code, v).unwrap();
    assert_eq!(get("ts", "1.0"), Some(elf));
    assert_eq!(get("ts", "2.0-raw"), None, "raw upload: no ELF");
    assert_eq!(get("ts", "9.9"), None);
    assert_eq!(get("nosuch", "1.0"), None);
    assert_eq!(get("ts", "../1.0"), None);
    // A corrupt bundle is "not found", as upstream.
    std::fs::write(app.asset("ts/firmware-1.0.zip"), b"garbage").unwrap();
    assert_eq!(get("ts", "1.0"), None);
}

#[test]
fn admin_lists_versions_newest_first() {
    let (app, _dev) = setup("ts");
    let b = Bundle::new("ts", "1.0");
    let zip = b.zip();
    app.upload_firmware_ok("ts", &zip);
    let raw = image("2.0", 10);
    app.upload_firmware_ok("ts", &raw);
    let r = app.get("/api/models/ts/firmware", Some(&app.admin));
    assert_eq!(r.status, 200);
    let v = r.json();
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["version"], "2.0");
    assert_eq!(versions[0]["current"], true);
    assert_eq!(versions[0]["has_elf"], false);
    assert_eq!(versions[0]["size"], raw.len());
    assert_eq!(versions[0]["sha256"], sha(&raw));
    assert_eq!(versions[1]["version"], "1.0");
    assert_eq!(versions[1]["current"], false);
    assert_eq!(versions[1]["has_elf"], true);
    assert_eq!(versions[1]["size"], b.get("ts.bin").len());
    assert_eq!(versions[1]["sha256"], sha(&b.get("ts.bin")));
    assert_eq!(versions[1]["bundle_size"], zip.len());
    let at = versions[1]["uploaded_at"].as_str().unwrap();
    assert!(at.ends_with('Z') && at < versions[0]["uploaded_at"].as_str().unwrap());
    let r = app.get("/api/models/nosuch/firmware", Some(&app.admin));
    assert_eq!(
        (r.status, r.error().as_str()),
        (404, "DeviceModel nosuch was not found")
    );
}

#[test]
fn admin_downloads_a_stored_version() {
    let (app, _dev) = setup("ts");
    let zip = Bundle::new("ts", "1.0").zip();
    app.upload_firmware_ok("ts", &zip);
    let raw = image("2.0", 10);
    app.upload_firmware_ok("ts", &raw);
    let r = app.get("/api/models/ts/firmware/1.0", Some(&app.admin));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, zip);
    assert_eq!(
        r.header("content-disposition").as_deref(),
        Some("attachment; filename=firmware-ts-1.0.zip")
    );
    let r = app.get("/api/models/ts/firmware/2.0", Some(&app.admin));
    assert_eq!(r.body, raw);
    let r = app.get("/api/models/ts/firmware/9.9", Some(&app.admin));
    assert_eq!(
        (r.status, r.error().as_str()),
        (404, "FirmwareVersion 9.9 was not found")
    );
    let r = app.get("/api/models/ts/firmware/..", Some(&app.admin));
    assert_eq!(r.status, 404);
}

#[test]
fn admin_deletes_versions_but_not_the_one_devices_use() {
    let (app, _dev) = setup("ts");
    app.upload_firmware_ok("ts", &Bundle::new("ts", "1.0").zip());
    app.upload_firmware_ok("ts", &Bundle::new("ts", "2.0").zip());
    let r = app.delete("/api/models/ts/firmware/1.0", Some(&app.admin));
    assert_eq!(r.status, 204);
    assert!(!app.asset("ts/firmware-1.0.zip").exists());
    assert!(!app.asset("ts/firmware-1.0.bin").exists());
    assert_eq!(app.firmware_versions("ts"), ["2.0"]);
    let r = app.delete("/api/models/ts/firmware/2.0", Some(&app.admin));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "INVALID_OPERATION");
    assert_eq!(
        r.error(),
        "Cannot delete firmware version 2.0 because it is the current version of model ts and 1 device(s) use it"
    );
    assert!(app.asset("ts/firmware-2.0.zip").exists());
    let r = app.delete("/api/models/ts/firmware/1.0", Some(&app.admin));
    assert_eq!(
        (r.status, r.error().as_str()),
        (404, "FirmwareVersion 1.0 was not found")
    );

    // Without devices the current version may go; the newest remaining one takes over.
    app.create_model("lab");
    let older = image("1.0", 10);
    app.upload_firmware_ok("lab", &older);
    app.upload_firmware_ok("lab", &image("2.0", 10));
    assert_eq!(
        app.delete("/api/models/lab/firmware/2.0", Some(&app.admin))
            .status,
        204
    );
    let m = app.get("/api/models/lab", Some(&app.admin)).json();
    assert_eq!(m["firmware_version"], "1.0");
    assert_eq!(std::fs::read(app.asset("firmware-lab.bin")).unwrap(), older);
    assert_eq!(
        app.delete("/api/models/lab/firmware/1.0", Some(&app.admin))
            .status,
        204
    );
    assert!(app.get("/api/models/lab", Some(&app.admin)).json()["firmware_version"].is_null());
    assert!(!app.asset("firmware-lab.bin").exists());
}

#[test]
fn deleting_a_model_removes_its_firmware_files_and_rows() {
    let app = TestApp::start();
    app.create_model("gone");
    app.upload_firmware_ok("gone", &Bundle::new("gone", "1.0").zip());
    assert_eq!(app.delete("/api/models/gone", Some(&app.admin)).status, 204);
    assert!(!app.asset("gone").exists());
    assert!(!app.asset("firmware-gone.bin").exists());
    app.create_model("gone");
    assert!(
        app.firmware_versions("gone").is_empty(),
        "rows went with the model"
    );
}

#[test]
fn cli_uploads_and_lists() {
    let app = TestApp::start();
    app.create_model("ts");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fw.zip");
    std::fs::write(&file, Bundle::new("ts", "8.0").zip()).unwrap();
    let out = app.cli(&[
        "firmware",
        "upload",
        "--model",
        "ts",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["firmware_version"], "8.0");
    assert_eq!(v["has_elf"], true);
    assert_eq!(app.firmware_versions("ts"), ["8.0"]);
    let out = app.cli(&["firmware", "list", "--model", "ts"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("8.0"));
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, [0u8; 100]).unwrap();
    let out = app.cli(&["firmware", "upload", "--model", "ts", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Invalid firmware: magic number mismatch")
    );
}

#[test]
fn device_and_admin_firmware_routes_refuse_other_principals() {
    let (app, dev) = setup("ts");
    app.upload_firmware_ok("ts", &Bundle::new("ts", "1.0").zip());
    // Device routes take device tokens only.
    for token in [None, Some(app.admin.as_str()), Some(app.pipeline.as_str())] {
        for path in ["/api/iot/firmware", "/api/iot/firmware-version"] {
            let r = app.get(path, token);
            assert_eq!(r.status, 401, "{path} with {token:?}");
        }
    }
    // Admin routes: 401 without or with a device token, 403 with a pipeline token.
    for (token, status) in [
        (None, 401),
        (Some(dev.token.as_str()), 401),
        (Some(app.pipeline.as_str()), 403),
    ] {
        assert_eq!(app.get("/api/models/ts/firmware", token).status, status);
        assert_eq!(app.get("/api/models/ts/firmware/1.0", token).status, status);
        assert_eq!(
            app.delete("/api/models/ts/firmware/1.0", token).status,
            status
        );
    }
    assert_eq!(app.firmware_versions("ts"), ["1.0"]);
}

#[test]
fn startup_adopts_stored_versions_and_drops_rows_without_files() {
    let app = TestApp::start();
    app.create_model("ts");
    app.upload_firmware_ok("ts", &Bundle::new("ts", "1.0").zip());
    app.upload_firmware_ok("ts", &Bundle::new("ts", "2.0").zip());
    app.upload_firmware_ok("ts", &Bundle::new("ts", "3.0").zip());
    // 2.0 lost its files; 0.5 (bundle) and 0.7 (raw image) have files but no row; junk stays.
    std::fs::remove_file(app.asset("ts/firmware-2.0.zip")).unwrap();
    std::fs::remove_file(app.asset("ts/firmware-2.0.bin")).unwrap();
    // ...but kept derived files (an index and an unpacked ELF), which go with its row.
    std::fs::write(app.asset("ts/firmware-2.0.idx"), b"index").unwrap();
    std::fs::write(app.asset("ts/firmware-2.0.elf"), b"elf").unwrap();
    std::fs::write(
        app.asset("ts/firmware-0.5.zip"),
        Bundle::new("ts", "0.5").zip(),
    )
    .unwrap();
    std::fs::write(app.asset("ts/firmware-0.7.bin"), image("0.7", 10)).unwrap();
    std::fs::write(app.asset("ts/firmware-0.8.zip"), b"not a zip").unwrap();
    std::fs::write(app.asset("ts/firmware-0.9.bin"), image("other", 10)).unwrap();
    std::fs::write(app.asset("ts/.tmp-abc.tmp"), b"half").unwrap();

    // An upstream ASSETS_DIR for a model that has no versions yet.
    app.create_model("up");
    let older = Bundle::new("up", "1.0");
    let newer = Bundle::new("up", "1.1");
    let t0 = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for (b, v, t) in [
        (&older, "1.0", t0),
        (&newer, "1.1", t0 + std::time::Duration::from_secs(60)),
    ] {
        let path = app.asset(&format!("up/firmware-{v}.zip"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b.zip()).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    let app = app.restart();
    let list = app.get("/api/models/ts/firmware", Some(&app.admin)).json();
    let got: Vec<(String, bool)> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().to_string(),
                v["has_elf"].as_bool().unwrap(),
            )
        })
        .collect();
    let mut versions: Vec<&str> = got.iter().map(|(v, _)| v.as_str()).collect();
    versions.sort();
    assert_eq!(versions, ["0.5", "0.7", "1.0", "3.0"], "{got:?}");
    assert!(!app.asset("ts/firmware-2.0.idx").exists());
    assert!(!app.asset("ts/firmware-2.0.elf").exists());
    assert!(got.contains(&("0.5".into(), true)) && got.contains(&("0.7".into(), false)));
    assert_eq!(
        app.get("/api/models/ts", Some(&app.admin)).json()["firmware_version"],
        "3.0",
        "adoption leaves an existing current version alone"
    );
    assert!(
        app.asset("ts/firmware-0.8.zip").exists(),
        "unadoptable files are left alone"
    );
    assert!(app.asset("ts/firmware-0.9.bin").exists());
    assert!(!app.asset("ts/.tmp-abc.tmp").exists());

    assert_eq!(app.firmware_versions("up"), ["1.1", "1.0"]);
    assert_eq!(
        app.get("/api/models/up", Some(&app.admin)).json()["firmware_version"],
        "1.1"
    );
    let dev = app.create_device("up");
    assert_eq!(
        app.get("/api/iot/firmware", Some(&dev.token)).body,
        newer.get("up.bin")
    );
    let elf = crashbox::firmware::elf_for(&app.state().db, &app.state().layout, "up", "1.0");
    assert!(elf.unwrap().is_some());
}
