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

/// The device's dump files, without the spares retention keeps for later uploads.
fn dumps_on_disk(app: &TestApp, dev: &common::TestDevice) -> Vec<std::path::PathBuf> {
    let mut files = app.dump_files(&dev.key);
    files.retain(|f| {
        !crashbox::store::Layout::is_temp_file_name(&f.file_name().unwrap().to_string_lossy())
    });
    files
}

fn inode(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
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
    let files = dumps_on_disk(&app, &dev);
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
    assert_eq!(dumps_on_disk(&app, &dev).len(), 5, "files follow rows");
    let spares = app.dump_files(&dev.key).len() - 5;
    assert!(spares <= 4, "at most 4 spare files per device: {spares}");
}

#[test]
fn evicted_files_are_written_over_by_later_uploads() {
    let app = TestApp::start_with(|c| c.max_coredumps = 2);
    app.create_model("m");
    let dev = app.create_device("m");
    let upload = |body: &[u8]| -> (i64, std::path::PathBuf) {
        let r = app.upload(&dev, "esp32", "1", body);
        assert_eq!(r.status, 201, "{}", r.text());
        let name = r.json()["filename"].as_str().unwrap().to_string();
        let id = r.json()["coredump_id"].as_i64().unwrap();
        (id, app.config.coredumps_dir.join(&dev.key).join(name))
    };
    let download = |id: i64| {
        app.get(
            &format!("/api/devices/{}/coredumps/{id}/download", dev.id),
            Some(&app.admin),
        )
    };
    let (_, a) = upload(&[b'a'; 300]);
    let (_, b) = upload(&[b'b'; 10]);
    let (a_inode, b_inode) = (inode(&a), inode(&b));
    upload(&[b'c'; 20]); // evicts a: its file becomes the folder's spare
    assert!(!a.exists());
    // d is written into a's old file, which was longer: cut to d's length.
    let (d, d_path) = upload(&[b'd'; 5]);
    assert_eq!(inode(&d_path), a_inode, "the evicted file is reused");
    assert_eq!(download(d).body, vec![b'd'; 5]);
    // e is written into b's old file, which was shorter.
    let (e, e_path) = upload(&[b'e'; 400]);
    assert_eq!(inode(&e_path), b_inode);
    assert_eq!(download(e).body, vec![b'e'; 400]);
    assert_eq!(ids(&app, &dev), vec![e, d]);
    assert_eq!(dumps_on_disk(&app, &dev).len(), 2);
    assert_eq!(
        app.dump_files(&dev.key).len(),
        3,
        "two dumps and c's file as a spare"
    );

    // Deleting all of the device's dumps leaves none of their bytes behind, spares included.
    let other = app.create_device("m");
    for i in 0..4u8 {
        app.upload(&other, "esp32", "1", &[i; 10]);
    }
    assert_eq!(app.dump_files(&other.key).len(), 3, "two dumps and a spare");
    let r = app.delete(
        &format!("/api/devices/{}/coredumps", other.id),
        Some(&app.admin),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(app.dump_files(&other.key).is_empty());

    // Spares are temp files: a restart removes them and keeps the dumps.
    let app = app.restart();
    assert_eq!(app.dump_files(&dev.key).len(), 2);
    assert_eq!(ids(&app, &dev), vec![e, d]);
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
