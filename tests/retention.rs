//! Retention (MAX_COREDUMPS) and start-up reconciliation of dump files and rows.
mod common;

use std::sync::Arc;

use common::TestApp;

fn ids(app: &TestApp, dev: &common::TestDevice) -> Vec<i64> {
    let v = app
        .get(
            &format!("/api/devices/{}/coredumps", dev.id),
            Some(&app.admin),
        )
        .json();
    v["coredumps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn keeps_the_newest_n_rows_and_files() {
    let app = TestApp::start_with(|c| c.max_coredumps = 3);
    app.create_model("m");
    let dev = app.create_device("m");
    let uploaded: Vec<i64> = (0..4u8)
        .map(|i| {
            app.upload(&dev, "esp32", "1", &[i; 8]).json()["coredump_id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids(&app, &dev), vec![uploaded[3], uploaded[2], uploaded[1]]);
    let files = app.dump_files(&dev.key);
    assert_eq!(files.len(), 3);
    let contents: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!contents.contains(&vec![0u8; 8]), "the oldest file is gone");
    assert!(contents.contains(&vec![3u8; 8]), "the newest file is kept");
}

#[test]
fn under_the_limit_nothing_is_deleted() {
    let app = TestApp::start();
    app.create_model("m");
    let dev = app.create_device("m");
    app.upload(&dev, "esp32", "1", b"a");
    app.upload(&dev, "esp32", "1", b"b");
    assert_eq!(ids(&app, &dev).len(), 2);
    assert_eq!(app.dump_files(&dev.key).len(), 2);
}

#[test]
fn concurrent_uploads_never_exceed_the_limit() {
    let app = Arc::new(TestApp::start_with(|c| c.max_coredumps = 5));
    app.create_model("m");
    let dev = Arc::new(app.create_device("m"));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (app, dev) = (app.clone(), dev.clone());
            std::thread::spawn(move || {
                for i in 0..10u8 {
                    let r = app.upload(&dev, "esp32", "1", &[t as u8, i]);
                    assert_eq!(r.status, 201, "{}", r.text());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(ids(&app, &dev).len(), 5);
    assert_eq!(app.dump_files(&dev.key).len(), 5, "files follow rows");
}

#[test]
fn restart_reconciles_files_and_rows() {
    let app = TestApp::start();
    app.create_model("m");
    let dev = app.create_device("m");
    let kept = app.upload(&dev, "esp32", "1", b"kept").json()["coredump_id"]
        .as_i64()
        .unwrap();
    let lost = app.upload(&dev, "esp32", "1", b"lost").json()["coredump_id"]
        .as_i64()
        .unwrap();
    let dir = app.config.coredumps_dir.join(&dev.key);
    // The file of `lost` disappears; an orphan dump file and a stale temp file appear.
    let lost_name = app
        .get(
            &format!("/api/devices/{}/coredumps/{lost}", dev.id),
            Some(&app.admin),
        )
        .json()["filename"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(dir.join(&lost_name)).unwrap();
    std::fs::write(dir.join("coredump_20200101T000000_000000Z.dmp"), b"orphan").unwrap();
    std::fs::write(dir.join(".tmp-abc.tmp"), b"partial").unwrap();

    let app = app.restart();
    assert_eq!(
        ids(&app, &dev),
        vec![kept],
        "the row without a file is gone"
    );
    let files = app.dump_files(&dev.key);
    assert_eq!(files.len(), 1, "orphan and temp files removed: {files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), b"kept");
}

#[test]
fn restart_with_an_empty_dump_folder_keeps_the_rows() {
    // A wrong COREDUMPS_DIR must not wipe the database.
    let app = TestApp::start();
    app.create_model("m");
    let dev = app.create_device("m");
    app.upload(&dev, "esp32", "1", b"a");
    app.upload(&dev, "esp32", "1", b"b");
    let elsewhere = app.dir.path().join("elsewhere");
    let app = app.restart_with(|c| c.coredumps_dir = elsewhere);
    assert_eq!(ids(&app, &dev).len(), 2);
}
