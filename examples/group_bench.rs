//! What grouping adds to a parse job, in release mode:
//!
//! ```sh
//! cargo run --release --example group_bench -- [--dumps 2000] [--corpus ../shared/corpus/esp-coredump/esp32c3]
//! ```
//!
//! Decodes the corpus dump once (the decode itself is measured too, for scale), then records
//! N results the way the parse job does — one write transaction per dump, fsynced — twice:
//! without grouping and with signing + grouping in the same transaction. Dumps alternate
//! between 20 devices and 5 firmware versions, so the tallies are updated as in a fleet. Prints
//! p50/p99 per dump of each, their difference, and the time of signing + grouping measured
//! inside the transaction (the fsync of the commit, shared by both, is the noisy part).

use std::path::PathBuf;
use std::time::Instant;

use crashbox::db::coredumps::{self, NewCoredump, Verdict};
use crashbox::db::{Db, devices, models};
use crashbox::decode::{Analysis, Engine};
use crashbox::groups::service::group_dump;
use crashbox::groups::signature;
use crashbox::ids::{CoredumpId, DeviceId, DeviceKey, Timestamp};

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(0.0)
}

fn corpus_dump(dir: &std::path::Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    use base64::Engine as _;
    let text = std::fs::read_to_string(dir.join("coredump.b64"))?;
    let mut raw = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        raw.extend(base64::engine::general_purpose::STANDARD.decode(line)?);
    }
    Ok((raw, std::fs::read(dir.join("app.elf"))?))
}

fn main() -> anyhow::Result<()> {
    let n: usize = arg("--dumps").and_then(|v| v.parse().ok()).unwrap_or(2000);
    let corpus = arg("--corpus").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/esp-coredump/esp32c3")
    });
    let (dump, elf) = corpus_dump(&corpus)?;

    // The decode, for scale (warm symbolizer, as for every dump after a version's first).
    let engine = Engine::new();
    let sym = engine.symbolizer(&elf, None)?;
    let mut decode_ms = Vec::new();
    let mut analysis: Option<Analysis> = None;
    for _ in 0..200 {
        let t = Instant::now();
        analysis = Some(engine.decode(&dump, Some(&sym), None)?);
        decode_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let analysis = analysis.ok_or_else(|| anyhow::anyhow!("no analysis"))?;
    let mut sign_ms = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let s = signature::from_analysis("m", &analysis);
        sign_ms.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(s.is_some(), "the corpus dump must be signable");
    }
    let json = serde_json::to_string(&analysis)?;

    let dir = tempfile::tempdir()?;
    let db = Db::open(&dir.path().join("bench.db"))?;
    let (model, devs) = {
        let conn = db.conn()?;
        let model = models::insert(&conn, "m", "m")?.ok_or_else(|| anyhow::anyhow!("model"))?;
        let mut devs: Vec<DeviceId> = Vec::new();
        for i in 0..20 {
            let key = DeviceKey::generate();
            let hash = format!("token-{i}");
            let d = devices::insert(&conn, key.as_str(), model.id, "", hash.as_bytes())?
                .ok_or_else(|| anyhow::anyhow!("device"))?;
            devs.push(d.id);
        }
        (model, devs)
    };
    let _ = model;
    let insert = |i: usize| -> anyhow::Result<CoredumpId> {
        let version = format!("1.{}.0", i % 5);
        let id = coredumps::insert(
            &*db.conn()?,
            &NewCoredump {
                device_id: devs[i % devs.len()],
                filename: "coredump_bench.dmp",
                chip: "esp32c3",
                firmware_version: &version,
                size: dump.len() as i64,
                uploaded_at: Timestamp::now(),
            },
        )?;
        Ok(id)
    };

    let mut plain_ms = Vec::new();
    let mut grouped_ms = Vec::new();
    let mut inside_ms = Vec::new();
    for i in 0..n {
        let id = insert(i)?;
        let t = Instant::now();
        db.write(|tx| coredumps::set_result(tx, id, Verdict::Parsed, Some("report"), Some(&json)))?;
        plain_ms.push(t.elapsed().as_secs_f64() * 1e3);

        let id = insert(i)?;
        let t = Instant::now();
        db.write(|tx| -> anyhow::Result<()> {
            coredumps::set_result(tx, id, Verdict::Parsed, Some("report"), Some(&json))?;
            let t = Instant::now();
            group_dump(tx, id, Some(&analysis), None)?;
            inside_ms.push(t.elapsed().as_secs_f64() * 1e3);
            Ok(())
        })?;
        grouped_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (p50p, p99p) = (pct(&mut plain_ms, 0.5), pct(&mut plain_ms, 0.99));
    let (p50g, p99g) = (pct(&mut grouped_ms, 0.5), pct(&mut grouped_ms, 0.99));
    println!("dumps recorded: {n} per variant, 20 devices, 5 versions");
    println!(
        "decode (warm symbolizer): p50 {:.3} ms  p99 {:.3} ms",
        pct(&mut decode_ms, 0.5),
        pct(&mut decode_ms, 0.99)
    );
    println!(
        "signature::from_analysis: p50 {:.4} ms  p99 {:.4} ms",
        pct(&mut sign_ms, 0.5),
        pct(&mut sign_ms, 0.99)
    );
    println!("record result (fsynced txn): p50 {p50p:.3} ms  p99 {p99p:.3} ms");
    println!("record + sign + group:       p50 {p50g:.3} ms  p99 {p99g:.3} ms");
    println!(
        "grouping adds (difference):  p50 {:.3} ms  p99 {:.3} ms (limit 1 ms)",
        p50g - p50p,
        p99g - p99p
    );
    println!(
        "sign + group inside the txn: p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms (limit 1 ms)",
        pct(&mut inside_ms, 0.5),
        pct(&mut inside_ms, 0.99),
        pct(&mut inside_ms, 1.0)
    );
    Ok(())
}
