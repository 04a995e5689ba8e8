//! The symbolization index in the store, through the real server: a bundle upload writes it,
//! the first dump of the version decodes from it, a corrupt one is rebuilt (never trusted),
//! start-up builds missing ones in the background, and deletion and retention remove it.
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{TestApp, TestDevice, wait_for};
use crashbox::decode::Symbolizer;

const WAIT: Duration = Duration::from_secs(60);

fn index_path(app: &TestApp, version: &str) -> PathBuf {
    app.config
        .assets_dir
        .join(format!("m/firmware-{version}.idx"))
}

fn usable(path: &PathBuf) -> bool {
    std::fs::read(path).is_ok_and(|b| Symbolizer::from_index(b, None).is_ok())
}

#[cfg(unix)]
fn inode(path: &PathBuf) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap())
}

fn corpus() -> Option<(Vec<u8>, Vec<u8>)> {
    let case = common::corpus_case("esp32c3")?;
    let elf = std::fs::read(case.join("app.elf")).unwrap();
    Some((elf, common::corpus_device_upload("esp32c3").unwrap()))
}

fn upload(app: &TestApp, dev: &TestDevice, fw: &str, body: &[u8]) -> i64 {
    let r = app.upload(dev, "esp32c3", fw, body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["coredump_id"].as_i64().unwrap()
}

#[test]
#[cfg(unix)]
fn upload_writes_the_index_and_the_first_dump_decodes_from_it() {
    let Some((elf, dump)) = corpus() else { return };
    let app = TestApp::start();
    app.create_model("m");
    let dev = app.create_device("m");
    app.install_bundle("m", "3.0.0", &elf);
    let idx = index_path(&app, "3.0.0");
    assert!(usable(&idx), "no usable index after the upload");
    let before = (inode(&idx), std::fs::read(&idx).unwrap());
    let id = upload(&app, &dev, "3.0.0", &dump);
    let d = app.wait_parsed(dev.id, id, WAIT);
    assert_eq!(d["parse_status"], "PARSED", "{d}");
    let report = d["parsed_output"].as_str().unwrap();
    // Arguments come from the ELF's DWARF, mapped from the unpacked ELF beside the index.
    assert!(
        report.contains("in fail_once (unused=<optimized out>)"),
        "{report}"
    );
    assert!(
        report.contains("panic_abort (details=details@entry=0x"),
        "{report}"
    );
    assert_eq!(std::fs::read(idx.with_extension("elf")).unwrap(), elf);
    // Decoded from the index as written: not rebuilt, not replaced.
    assert_eq!((inode(&idx), std::fs::read(&idx).unwrap()), before);
    // The same analysis the ELF gives.
    let from_elf = Symbolizer::new(elf).unwrap();
    let engine = crashbox::decode::Engine::new();
    let a = engine
        .decode(
            &dump,
            Some(&from_elf),
            Some(crashbox::decode::Chip::Esp32c3),
        )
        .unwrap();
    assert_eq!(d["parsed_output"].as_str().unwrap(), a.report_text());
}

#[test]
fn a_corrupt_or_old_index_is_rebuilt_from_the_elf() {
    let Some((elf, dump)) = corpus() else { return };
    let app = TestApp::start();
    app.create_model("m");
    let dev = app.create_device("m");
    app.install_bundle("m", "3.0.0", &elf);
    let idx = index_path(&app, "3.0.0");
    let good = std::fs::read(&idx).unwrap();
    let mut reports = Vec::new();
    let damaged: [(&str, Vec<u8>); 4] = [
        ("flipped", {
            let mut b = good.clone();
            let mid = b.len() / 2;
            b[mid] ^= 0xff;
            b
        }),
        ("truncated", good[..good.len() / 3].to_vec()),
        ("old version", {
            let mut b = good.clone();
            b[8] = b[8].wrapping_add(1);
            b
        }),
        ("garbage", b"not an index".to_vec()),
    ];
    for (what, bytes) in damaged {
        std::fs::write(&idx, &bytes).unwrap();
        let id = upload(&app, &dev, "3.0.0", &dump);
        let d = app.wait_parsed(dev.id, id, WAIT);
        assert_eq!(d["parse_status"], "PARSED", "{what}: {d}");
        reports.push(d["parsed_output"].as_str().unwrap().to_string());
        // Rebuilt beside the decode, by the worker that met it.
        wait_for(&format!("{what}: index rebuilt"), WAIT, || {
            std::fs::read(&idx).is_ok_and(|b| b != bytes && b.len() == good.len() && usable(&idx))
        });
    }
    // The unpacked ELF beside the index missing, of another length, or replaced: the index is
    // not used without the ELF it was built with (no arguments, or another build's), both are
    // rebuilt.
    let unpacked = idx.with_extension("elf");
    let mut other = elf.clone();
    let last = other.len() - 1;
    other[last] ^= 0xff;
    for (what, elf_now) in [
        ("no ELF", None),
        ("short ELF", Some(&elf[..elf.len() / 2])),
        ("another ELF of the same length", Some(&other[..])),
    ] {
        match elf_now {
            None => std::fs::remove_file(&unpacked).unwrap(),
            Some(b) => std::fs::write(&unpacked, b).unwrap(),
        }
        let id = upload(&app, &dev, "3.0.0", &dump);
        let d = app.wait_parsed(dev.id, id, WAIT);
        assert_eq!(d["parse_status"], "PARSED", "{what}: {d}");
        reports.push(d["parsed_output"].as_str().unwrap().to_string());
        wait_for(&format!("{what}: ELF unpacked again"), WAIT, || {
            std::fs::read(&unpacked).is_ok_and(|b| b == elf) && usable(&idx)
        });
    }
    reports.dedup();
    assert_eq!(reports.len(), 1, "reports differ between the paths");
    // An index of another bundle (the stamp no longer matches) is rebuilt too.
    app.install_bundle("m", "3.0.0", &elf);
    let fresh = std::fs::read(&idx).unwrap();
    assert_ne!(fresh, good, "a re-upload must restamp the index");
    std::fs::write(&idx, &good).unwrap();
    let id = upload(&app, &dev, "3.0.0", &dump);
    assert_eq!(app.wait_parsed(dev.id, id, WAIT)["parse_status"], "PARSED");
    wait_for("the stale index to be rebuilt", WAIT, || {
        std::fs::read(&idx).is_ok_and(|b| b != good && usable(&idx))
    });
}

#[test]
fn start_up_builds_missing_indexes_in_the_background() {
    let Some((elf, _)) = corpus() else { return };
    let app = TestApp::start();
    app.create_model("m");
    app.install_bundle("m", "3.0.0", &elf);
    app.install_bundle("m", "3.0.1", &elf);
    let (a, b) = (index_path(&app, "3.0.0"), index_path(&app, "3.0.1"));
    std::fs::remove_file(&a).unwrap();
    std::fs::write(&b, b"damaged").unwrap();
    let app = app.restart();
    let (a, b) = (index_path(&app, "3.0.0"), index_path(&app, "3.0.1"));
    wait_for("start-up to index the stored bundles", WAIT, || {
        usable(&a) && usable(&b)
    });
}

#[test]
fn deleting_or_pruning_a_version_removes_its_index() {
    let Some((elf, _)) = corpus() else { return };
    let app = TestApp::start_with(|c| c.max_firmwares = 2);
    app.create_model("m");
    for v in ["1.0.0", "2.0.0", "3.0.0"] {
        app.install_bundle("m", v, &elf);
    }
    // Retention pruned the oldest version with its index and unpacked ELF.
    assert!(!index_path(&app, "1.0.0").exists());
    assert!(!index_path(&app, "1.0.0").with_extension("elf").exists());
    assert!(index_path(&app, "2.0.0").with_extension("elf").exists());
    assert!(usable(&index_path(&app, "2.0.0")));
    let r = app.delete("/api/models/m/firmware/2.0.0", Some(&app.admin));
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(!index_path(&app, "2.0.0").exists());
    assert!(!index_path(&app, "2.0.0").with_extension("elf").exists());
    assert!(!app.config.assets_dir.join("m/firmware-2.0.0.zip").exists());
    assert!(usable(&index_path(&app, "3.0.0")));
}

#[test]
fn a_bundle_whose_elf_cannot_be_indexed_still_uploads() {
    let app = TestApp::start();
    app.create_model("m");
    app.install_bundle("m", "1.0.0", b"\x7fELF not really");
    assert!(app.config.assets_dir.join("m/firmware-1.0.0.zip").exists());
    assert!(!index_path(&app, "1.0.0").exists());
}
