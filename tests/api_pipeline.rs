//! CI side: `POST /api/pipeline/models/{code}/firmware` (the original system's pipeline and
//! firmware-service scenarios: app image version, bundle checks, plus every hardening case), the
//! pipeline version endpoint, and `upload.sh` run for real with `sh` against the server.
mod common;

use common::TestApp;
use common::firmware::{Bundle, image, multipart, patch_bytes, patch_declared_size};
use serde_json::json;

/// Incompressible bytes (xorshift), so a ZIP is as large as its content.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn app_with_model(code: &str) -> TestApp {
    let app = TestApp::start();
    app.create_model(code);
    app
}

fn err(app: &TestApp, code: &str, body: &[u8]) -> (u16, String) {
    let r = app.upload_firmware(code, body);
    (r.status, r.error())
}

#[test]
fn raw_bin_upload_sets_current_version_and_legacy_file() {
    let app = app_with_model("ts");
    let bin = image("1.0.0", 500);
    let v = app.upload_firmware_ok("ts", &bin);
    assert_eq!(v["firmware_version"], "1.0.0");
    assert_eq!(v["code"], "ts");
    assert!(v["id"].as_i64().is_some());
    assert_eq!(v["has_elf"], false);
    assert_eq!(std::fs::read(app.asset("firmware-ts.bin")).unwrap(), bin);
    assert!(!app.asset("ts/firmware-1.0.0.zip").exists(), "raw: no ZIP");
    let m = app.get("/api/models/ts", Some(&app.admin)).json();
    assert_eq!(m["firmware_version"], "1.0.0");
    let list = app.get("/api/models/ts/firmware", Some(&app.admin)).json();
    assert_eq!(list["versions"][0]["has_elf"], false);
    assert!(list["versions"][0]["bundle_size"].is_null());
}

#[test]
fn unknown_model_and_empty_body() {
    let app = app_with_model("ts");
    assert_eq!(
        err(&app, "nosuch", &image("1", 0)),
        (404, "DeviceModel nosuch was not found".into())
    );
    assert_eq!(
        err(&app, "ts", b""),
        (400, "No firmware content provided".into())
    );
    // Upstream's order: the model lookup comes first.
    assert_eq!(err(&app, "nosuch", b"").0, 404);
}

#[test]
fn bundle_upload_stores_zip_bin_and_legacy_file() {
    let app = app_with_model("ts");
    let b = Bundle::new("ts", "4.1.0");
    let zip = b.zip();
    let v = app.upload_firmware_ok("ts", &zip);
    assert_eq!(
        (v["firmware_version"].as_str(), v["has_elf"].as_bool()),
        (Some("4.1.0"), Some(true))
    );
    assert_eq!(v["warnings"], json!([]));
    assert_eq!(
        std::fs::read(app.asset("ts/firmware-4.1.0.zip")).unwrap(),
        zip
    );
    assert_eq!(
        std::fs::read(app.asset("ts/firmware-4.1.0.bin")).unwrap(),
        b.get("ts.bin")
    );
    let legacy = std::fs::read(app.asset("firmware-ts.bin")).unwrap();
    assert_eq!(legacy, b.get("ts.bin"));
    assert_eq!(
        crashbox::firmware::app_image::version(&legacy).unwrap(),
        "4.1.0"
    );
    // A plain .bin still works afterwards and becomes current.
    assert_eq!(
        app.upload_firmware_ok("ts", &image("4.2.0", 0))["firmware_version"],
        "4.2.0"
    );
}

#[test]
fn multipart_field_file_is_accepted() {
    let app = app_with_model("ts");
    let (ct, body) = multipart("file", &Bundle::new("ts", "3.0.0").zip());
    let r = app.post(
        "/api/pipeline/models/ts/firmware",
        Some(&app.pipeline),
        &ct,
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["firmware_version"], "3.0.0");
    // Bundles larger than the router's 1 MiB default body limit pass, raw and multipart.
    let big = Bundle::new("ts", "3.0.2")
        .set("ts.elf", noise(3 << 20))
        .zip();
    assert!(big.len() > 3 << 20);
    let (ct, body) = multipart("file", &big);
    let r = app.post(
        "/api/pipeline/models/ts/firmware",
        Some(&app.pipeline),
        &ct,
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let big = Bundle::new("ts", "3.0.3")
        .set("ts.elf", noise(3 << 20))
        .zip();
    assert_eq!(app.upload_firmware("ts", &big).status, 200);
    let (ct, body) = multipart("other", &Bundle::new("ts", "3.0.1").zip());
    let r = app.post(
        "/api/pipeline/models/ts/firmware",
        Some(&app.pipeline),
        &ct,
        &body,
    );
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "No firmware content provided")
    );
}

#[test]
fn zip_members_are_checked_in_upstream_order_with_upstream_texts() {
    let app = app_with_model("ts");
    let only_random = Bundle {
        members: vec![("random.txt".into(), b"x".to_vec())],
    };
    assert_eq!(
        err(&app, "ts", &only_random.zip()),
        (
            400,
            "Invalid firmware ZIP: missing sdkconfig, ts.bin, ts.elf, ts.map, version.json".into()
        )
    );
    for member in ["ts.bin", "ts.elf", "ts.map", "sdkconfig", "version.json"] {
        let zip = Bundle::new("ts", "1.0").without(member).zip();
        assert_eq!(
            err(&app, "ts", &zip),
            (400, format!("Invalid firmware ZIP: missing {member}"))
        );
    }
    // Missing is reported before unexpected.
    let zip = Bundle::new("ts", "1.0")
        .without("ts.map")
        .set("unexpected.txt", "x")
        .zip();
    assert_eq!(
        err(&app, "ts", &zip).1,
        "Invalid firmware ZIP: missing ts.map"
    );
    let zip = Bundle::new("ts", "1.0")
        .set("unexpected.txt", "x")
        .set("another.txt", "y")
        .zip();
    assert_eq!(
        err(&app, "ts", &zip).1,
        "Invalid firmware ZIP: unexpected files: another.txt, unexpected.txt"
    );
    // Names are case-sensitive and belong to the URL's model.
    assert_eq!(
        err(&app, "ts", &Bundle::new("TS", "1.0").zip()).1,
        "Invalid firmware ZIP: missing ts.bin, ts.elf, ts.map"
    );
    assert!(
        app.firmware_versions("ts").is_empty(),
        "nothing stored on rejection"
    );
    assert!(!app.asset("firmware-ts.bin").exists());
}

#[test]
fn version_json_rules() {
    let app = app_with_model("ts");
    let with = |vj: &[u8]| Bundle::new("ts", "1.0").set("version.json", vj).zip();
    let (s, e) = err(&app, "ts", &with(b"{not json"));
    assert_eq!(s, 400);
    assert!(
        e.starts_with("Invalid firmware ZIP: version.json is not valid JSON: "),
        "{e}"
    );
    assert_eq!(
        err(
            &app,
            "ts",
            &with(br#"{"idf_version":"v5","firmware_version":"1.0"}"#)
        ),
        (
            400,
            "Invalid firmware ZIP: version.json missing fields: git_commit".into()
        )
    );
    assert_eq!(
        err(&app, "ts", &with(b"{}")).1,
        "Invalid firmware ZIP: version.json missing fields: firmware_version, git_commit, idf_version"
    );
    // Hardening: non-object and non-UTF-8 are 400s, not 500s.
    assert_eq!(
        err(&app, "ts", &with(b"[1, 2, 3]")),
        (
            400,
            "Invalid firmware ZIP: version.json must be a JSON object".into()
        )
    );
    let (s, e) = err(&app, "ts", &with(b"\xff\xfe{\x00}\x00"));
    assert_eq!(s, 400);
    assert!(
        e.starts_with("Invalid firmware ZIP: version.json is not valid UTF-8"),
        "{e}"
    );
    // Values are not checked.
    let ok = with(br#"{"git_commit":1,"idf_version":null,"firmware_version":"1.0"}"#);
    assert_eq!(app.upload_firmware("ts", &ok).status, 200);
}

#[test]
fn app_image_errors() {
    let app = app_with_model("ts");
    let bad = |bin: Vec<u8>| Bundle::with_image("ts", "1.0", bin).zip();
    assert_eq!(
        err(&app, "ts", &bad(vec![0u8; 50])).1,
        "Invalid firmware: binary too short (minimum 80 bytes required)"
    );
    assert_eq!(
        err(&app, "ts", &bad(vec![0u8; 300])).1,
        "Invalid firmware: magic number mismatch (expected 0xABCD5432, got 0x00000000)"
    );
    assert_eq!(
        err(&app, "ts", &bad(image("", 0))).1,
        "Invalid firmware: empty version string"
    );
    // The raw path has the same checks.
    assert_eq!(
        err(&app, "ts", &[7u8; 90]).1,
        "Invalid firmware: magic number mismatch (expected 0xABCD5432, got 0x07070707)"
    );
    assert_eq!(
        err(&app, "ts", b"PK\x03\x04 but not a zip at all"),
        (400, "Invalid firmware ZIP: File is not a zip file".into())
    );
}

#[test]
fn versions_unsafe_in_a_path_are_rejected_before_any_write() {
    let app = app_with_model("ts");
    for v in ["../../../etc/x", "a b", "v1/2", "..", &"x".repeat(31)] {
        let expect_ok = v.len() == 31;
        for body in [image(v, 0), Bundle::new("ts", v).zip()] {
            let r = app.upload_firmware("ts", &body);
            if expect_ok {
                assert_eq!(r.status, 200, "{v}: {}", r.text());
                continue;
            }
            assert_eq!(r.status, 400, "{v}: {}", r.text());
            assert!(
                r.error().starts_with("Invalid firmware: version ")
                    && r.error().contains("cannot be stored"),
                "{}",
                r.error()
            );
        }
    }
    assert!(!app.config.assets_dir.join("../etc").exists());
    assert_eq!(app.firmware_versions("ts"), vec!["x".repeat(31)]);
}

#[test]
fn mismatching_version_json_is_a_warning_not_an_error() {
    let app = app_with_model("ts");
    let zip = Bundle::new("ts", "1.0.0")
        .set(
            "version.json",
            r#"{"git_commit":"a","idf_version":"v5","firmware_version":"9.9.9"}"#,
        )
        .zip();
    let v = app.upload_firmware_ok("ts", &zip);
    assert_eq!(v["firmware_version"], "1.0.0", "the image's version wins");
    let w = v["warnings"][0].as_str().unwrap();
    assert!(w.contains("9.9.9") && w.contains("1.0.0"), "{w}");
}

#[test]
fn same_version_twice_overwrites() {
    let app = app_with_model("ts");
    let first = Bundle::new("ts", "2.0").set("ts.map", "first");
    let second = Bundle::with_image("ts", "2.0", image("2.0", 4000)).set("ts.map", "second");
    app.upload_firmware_ok("ts", &first.zip());
    app.upload_firmware_ok("ts", &second.zip());
    assert_eq!(
        std::fs::read(app.asset("ts/firmware-2.0.zip")).unwrap(),
        second.zip()
    );
    assert_eq!(app.firmware_versions("ts"), vec!["2.0"]);
    let list = app.get("/api/models/ts/firmware", Some(&app.admin)).json();
    assert_eq!(list["versions"][0]["size"], second.get("ts.bin").len());
    let dl = app.get("/api/iot/firmware", Some(&app.create_device("ts").token));
    assert_eq!(dl.body, second.get("ts.bin"));
}

#[test]
fn size_limit_is_enforced_from_content_length_and_while_streaming() {
    let app = TestApp::start_with(|c| c.max_bundle_bytes = 64 << 10);
    app.create_model("ts");
    // Declared too large: answered without the body being sent.
    let head = format!(
        "POST /api/pipeline/models/ts/firmware HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.pipeline,
        (64 << 10) + 1
    );
    let resp = raw_request(&app, &head, &[]);
    assert!(
        resp.starts_with("HTTP/1.1 413")
            && resp.contains("Firmware bundle exceeds maximum size of 65536 bytes"),
        "{resp}"
    );
    // Chunked, no Content-Length: cut off while streaming.
    let head = format!(
        "POST /api/pipeline/models/ts/firmware HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/zip\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.pipeline
    );
    let chunk = [b"8000\r\n".as_slice(), &[0u8; 0x8000], b"\r\n"].concat();
    let resp = raw_request(&app, &head, &[&chunk, &chunk, &chunk, b"0\r\n\r\n"]);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    // Multipart too.
    let (ct, body) = multipart("file", &vec![1u8; 70 << 10]);
    let r = app.post(
        "/api/pipeline/models/ts/firmware",
        Some(&app.pipeline),
        &ct,
        &body,
    );
    assert_eq!(r.status, 413, "{}", r.text());
    // Exactly at the limit is fine (as a raw .bin).
    let bin = image("1.0", (64 << 10) - 288);
    assert_eq!(bin.len(), 64 << 10);
    assert_eq!(app.upload_firmware("ts", &bin).status, 200);
}

#[test]
fn zip_bombs_and_hostile_archives_are_refused() {
    let app = app_with_model("ts");
    // An app image that inflates past the 16 MiB app cap (it compresses to a few KiB).
    let big = Bundle::with_image("ts", "1.0", image("1.0", 17 << 20)).zip();
    assert!(big.len() < 1 << 20);
    let (s, e) = err(&app, "ts", &big);
    assert_eq!(s, 400);
    assert!(
        e.starts_with("Invalid firmware ZIP: ts.bin is too large"),
        "{e}"
    );
    // The same, with the central directory lying about the size: the real size is capped.
    let mut lying = big.clone();
    patch_declared_size(&mut lying, "ts.bin", 1000);
    let (s, e) = err(&app, "ts", &lying);
    assert_eq!(s, 400);
    assert!(e.starts_with("Invalid firmware ZIP: "), "{e}");
    // A member declaring more than the per-member cap.
    let mut declared = Bundle::new("ts", "1.0").zip();
    patch_declared_size(&mut declared, "ts.elf", 300 << 20);
    assert_eq!(
        err(&app, "ts", &declared).1,
        "Invalid firmware ZIP: ts.elf is too large (314572800 bytes uncompressed, at most 268435456)"
    );
    // Declared sizes that add up past the total cap.
    let mut total = Bundle::new("ts", "1.0").zip();
    patch_declared_size(&mut total, "ts.elf", 200 << 20);
    patch_declared_size(&mut total, "ts.map", 200 << 20);
    patch_declared_size(&mut total, "sdkconfig", 200 << 20);
    let (s, e) = err(&app, "ts", &total);
    assert_eq!(s, 400);
    assert!(e.contains("in total, at most 536870912"), "{e}");
    // Too many entries.
    let mut many = Bundle::new("ts", "1.0");
    for i in 0..70 {
        many = many.set(&format!("f{i}"), "x");
    }
    assert_eq!(
        err(&app, "ts", &many.zip()).1,
        "Invalid firmware ZIP: too many entries (75, at most 64)"
    );
    // Paths, parent references and absolute names.
    for name in ["../ts.bin", "/etc/passwd", "build/ts.bin", "..\\x"] {
        let zip = Bundle::new("ts", "1.0").set(name, "x").zip();
        let (s, e) = err(&app, "ts", &zip);
        assert_eq!(s, 400, "{name}");
        assert!(
            e.starts_with(
                "Invalid firmware ZIP: member names must be plain file names (no folders, '..' or absolute paths): "
            ),
            "{name}: {e}"
        );
    }
    // Two members with the same name (which a ZIP writer refuses to make: patched in).
    let mut dup = Bundle::new("ts", "1.0").set("ts.bix", "other").zip();
    patch_bytes(&mut dup, b"ts.bix", b"ts.bin");
    assert_eq!(
        err(&app, "ts", &dup).1,
        "Invalid firmware ZIP: duplicate member names"
    );
    assert!(app.firmware_versions("ts").is_empty());
}

#[test]
fn pipeline_firmware_version() {
    let app = app_with_model("ts");
    let get = |code: &str| {
        app.get(
            &format!("/api/pipeline/models/{code}/firmware-version"),
            Some(&app.pipeline),
        )
    };
    let r = get("ts");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"code": "ts", "firmware_version": null}));
    app.upload_firmware_ok("ts", &image("5.5.5", 0));
    assert_eq!(get("ts").json()["firmware_version"], "5.5.5");
    let r = get("nosuch");
    assert_eq!(
        (r.status, r.error().as_str()),
        (404, "DeviceModel nosuch was not found")
    );
}

#[test]
fn pipeline_routes_refuse_other_principals() {
    let app = app_with_model("ts");
    let dev = app.create_device("ts");
    let body = image("1.0", 0);
    for (token, status) in [
        (None, 401),
        (Some(dev.token.as_str()), 401),
        (Some(app.admin.as_str()), 403),
        (Some("cbx_not_a_real_token"), 401),
    ] {
        let r = app.post(
            "/api/pipeline/models/ts/firmware",
            token,
            "application/octet-stream",
            &body,
        );
        assert_eq!(r.status, status, "upload with {token:?}: {}", r.text());
        let r = app.get("/api/pipeline/models/ts/firmware-version", token);
        assert_eq!(r.status, status, "version with {token:?}");
    }
    let r = app.post(
        "/api/pipeline/models/ts/firmware",
        Some(&app.admin),
        "application/octet-stream",
        &body,
    );
    assert_eq!(
        r.error(),
        "Insufficient permissions - requires one of: pipeline"
    );
    assert!(app.firmware_versions("ts").is_empty());
}

#[test]
fn upload_script_is_public_and_bakes_in_the_url() {
    let app = TestApp::start();
    let r = app.get("/api/pipeline/upload.sh", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/x-shellscript; charset=utf-8")
    );
    assert_eq!(
        r.header("content-disposition").as_deref(),
        Some("inline; filename=upload.sh")
    );
    let s = r.text();
    assert!(s.starts_with("#!/bin/sh\n"));
    let host = app.base.trim_start_matches("http://");
    assert!(s.contains(&format!("BACKEND_URL='http://{host}'")), "{s}");
    for needle in [
        "CRASHBOX_TOKEN",
        "Usage",
        "project_description.json",
        "Auto-detected",
        "version.json",
        "zip",
        "sdkconfig",
        ".elf",
        ".map",
        "git_commit",
        "idf_version",
        "firmware_version",
    ] {
        assert!(s.contains(needle), "script lacks {needle}");
    }
    let r = app.get_with(
        "/api/pipeline/upload.sh",
        None,
        &[
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "crash.example.org"),
        ],
    );
    assert!(r.text().contains("BACKEND_URL='https://crash.example.org'"));
    let r = app.get_with(
        "/api/pipeline/upload.sh",
        None,
        &[("X-Forwarded-Host", "x';touch /tmp/pwned;'")],
    );
    assert!(
        r.text().contains("BACKEND_URL='http://localhost'"),
        "hostile host falls back"
    );
}

/// A fake ESP-IDF project: build/project_description.json, build/<name>.{bin,elf,map} and
/// ./sdkconfig.
fn fake_project(dir: &std::path::Path, name: &str, version: &str) -> Vec<u8> {
    let build = dir.join("build");
    std::fs::create_dir_all(&build).unwrap();
    std::fs::write(
        build.join("project_description.json"),
        format!(
            "{{\n    \"version\": \"1.2\",\n    \"project_name\": \"{name}\",\n    \"project_version\": \"{version}\",\n    \"project_path\": \"/src\",\n    \"idf_path\": \"/opt/esp-idf\",\n    \"git_revision\": \"v5.1.2\",\n    \"target\": \"esp32c3\"\n}}\n"
        ),
    )
    .unwrap();
    let bin = image(version, 20_000);
    std::fs::write(build.join(format!("{name}.bin")), &bin).unwrap();
    std::fs::write(build.join(format!("{name}.elf")), b"\x7fELF from the build").unwrap();
    std::fs::write(build.join(format!("{name}.map")), b"map").unwrap();
    std::fs::write(dir.join("sdkconfig"), b"CONFIG_IDF_TARGET=\"esp32c3\"\n").unwrap();
    bin
}

/// Runs the served script the documented way: `curl ... | sh -s -- ARGS`.
fn run_script(
    app: &TestApp,
    cwd: &std::path::Path,
    args: &[&str],
    path: Option<&str>,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let script = app.get("/api/pipeline/upload.sh", None).body;
    let mut cmd = Command::new("sh");
    cmd.arg("-s")
        .arg("--")
        .args(args)
        .current_dir(cwd)
        .env("CRASHBOX_TOKEN", &app.pipeline)
        .env_remove("CRASHBOX_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let mut child = cmd.spawn().expect("sh");
    child.stdin.take().unwrap().write_all(&script).unwrap();
    child.wait_with_output().unwrap()
}

fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn upload_script_end_to_end() {
    assert!(
        have("curl") && have("zip"),
        "the upload.sh test needs the curl and zip commands"
    );
    let app = app_with_model("sensor_fw");
    let project = tempfile::tempdir().unwrap();
    let bin = fake_project(project.path(), "sensor_fw", "2.0.0");
    let out = run_script(&app, project.path(), &[], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains(
            "Auto-detected from build/project_description.json: model=sensor_fw, file=build/sensor_fw.bin"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Success: Uploaded firmware version 2.0.0"),
        "{stdout}"
    );
    // It landed: a bundle with an ELF, current, served to devices.
    let list = app
        .get("/api/models/sensor_fw/firmware", Some(&app.admin))
        .json();
    assert_eq!(list["versions"][0]["version"], "2.0.0");
    assert_eq!(list["versions"][0]["has_elf"], true);
    let dev = app.create_device("sensor_fw");
    assert_eq!(app.get("/api/iot/firmware", Some(&dev.token)).body, bin);
    // The generated version.json.
    let zip = app
        .get("/api/models/sensor_fw/firmware/2.0.0", Some(&app.admin))
        .body;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "sdkconfig",
            "sensor_fw.bin",
            "sensor_fw.elf",
            "sensor_fw.map",
            "version.json"
        ]
    );
    let vj: serde_json::Value =
        serde_json::from_reader(archive.by_name("version.json").unwrap()).unwrap();
    assert_eq!(vj["firmware_version"], "2.0.0");
    assert_eq!(vj["idf_version"], "v5.1.2");
    assert!(vj["git_commit"].is_string());
}

#[test]
fn upload_script_with_explicit_model_renames_members_and_reports_errors() {
    let app = app_with_model("other_model");
    let project = tempfile::tempdir().unwrap();
    fake_project(project.path(), "proj", "3.1.4");
    // Upstream's script kept the bin's basename, so this was rejected; ours renames.
    let out = run_script(
        &app,
        project.path(),
        &["other_model", "build/proj.bin"],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Success: Uploaded firmware version 3.1.4"));
    assert_eq!(app.firmware_versions("other_model"), vec!["3.1.4"]);

    // Server-side rejection: the script fails and shows the server's message.
    let out = run_script(&app, project.path(), &["nosuch", "build/proj.bin"], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("HTTP 404") && stderr.contains("DeviceModel nosuch was not found"),
        "{stderr}"
    );
    // Missing companion files are listed before anything is uploaded.
    std::fs::remove_file(project.path().join("build/proj.map")).unwrap();
    let out = run_script(
        &app,
        project.path(),
        &["other_model", "build/proj.bin"],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing files: build/proj.map"));
}

#[test]
fn upload_script_falls_back_to_python_without_zip() {
    // A PATH with the script's tools but no `zip`.
    let python = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let Some(python) = python else {
        return common::skip("python3 is not installed");
    };
    let bin_dir = tempfile::tempdir().unwrap();
    for tool in [
        "sh", "curl", "sed", "head", "tr", "cp", "mkdir", "mktemp", "rm", "cat", "grep",
    ] {
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(!path.is_empty(), "{tool} not found");
        std::os::unix::fs::symlink(path, bin_dir.path().join(tool)).unwrap();
    }
    std::os::unix::fs::symlink(&python, bin_dir.path().join("python3")).unwrap();
    let app = app_with_model("py_fw");
    let project = tempfile::tempdir().unwrap();
    fake_project(project.path(), "py_fw", "0.9.0");
    let out = run_script(
        &app,
        project.path(),
        &[],
        Some(bin_dir.path().to_str().unwrap()),
    );
    assert!(
        out.status.success(),
        "{} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.firmware_versions("py_fw"), vec!["0.9.0"]);
}

/// Writes a raw HTTP/1.1 request and returns the whole response as text.
fn raw_request(app: &TestApp, head: &str, body_chunks: &[&[u8]]) -> String {
    use std::io::{Read, Write};
    let addr = app.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.write_all(head.as_bytes()).unwrap();
    for c in body_chunks {
        // A server that already answered may have closed: ignore write errors.
        let _ = s.write_all(c);
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}
