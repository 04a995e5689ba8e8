//! `crashbox decode` as a whole process against esp-coredump + gdb on the same dump, in paired
//! runs (one of each, alternating, so both see the same machine load). Run in release:
//!
//! ```text
//! cargo build --release && eval "$(bash .ci/install-sidecar.sh | sed 's/^/export /')"
//! cargo run --release --example decode_process_bench -- [PAIRS]
//! ```
//!
//! For each RISC-V corpus case (stock gdb-multiarch has no Xtensa; the esp32 case is timed for
//! crashbox alone): `target/release/crashbox decode --elf app.elf coredump.b64` and
//! `$ESP_COREDUMP_BIN --chip <chip> info_corefile -t b64 --gdb $ESP_GDB -c coredump.b64 app.elf`,
//! `PAIRS` times each (default 20), wall time of the whole process; p50, mean and the ratio of
//! the p50s. Without `ESP_COREDUMP_BIN`/`ESP_GDB` only crashbox is timed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

fn time(cmd: &mut Command) -> anyhow::Result<f64> {
    let t = Instant::now();
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output()?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(ms)
}

fn p50_mean(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let p50 = s.get(s.len() / 2).copied().unwrap_or(0.0);
    (p50, s.iter().sum::<f64>() / s.len().max(1) as f64)
}

fn main() -> anyhow::Result<()> {
    let pairs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join("target/release/crashbox");
    anyhow::ensure!(
        bin.exists(),
        "build the binary first: cargo build --release"
    );
    let corpus = root.join("../shared/corpus/esp-coredump");
    let rival = std::env::var("ESP_COREDUMP_BIN")
        .ok()
        .zip(std::env::var("ESP_GDB").ok());
    let data = tempfile::tempdir()?;
    println!("{pairs} paired runs per case, whole process wall time");
    println!(
        "{:<12} {:>22} {:>26} {:>8}",
        "case", "crashbox p50/mean", "esp-coredump+gdb p50/mean", "ratio"
    );
    for case in ["esp32", "esp32c3", "esp32c3_bin"] {
        let dir = corpus.join(case);
        let (elf, dump) = (dir.join("app.elf"), dir.join("coredump.b64"));
        if !elf.exists() {
            continue;
        }
        let chip = case.split('_').next().unwrap_or(case);
        let riscv = chip != "esp32";
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..pairs {
            ours.push(time(
                Command::new(&bin)
                    .arg("--data-dir")
                    .arg(data.path())
                    .arg("decode")
                    .arg("--elf")
                    .arg(&elf)
                    .arg(&dump),
            )?);
            if let (Some((esp, gdb)), true) = (&rival, riscv) {
                theirs.push(time(
                    Command::new(esp)
                        .args([
                            "--chip",
                            chip,
                            "info_corefile",
                            "-t",
                            "b64",
                            "--gdb",
                            gdb,
                            "-c",
                        ])
                        .arg(&dump)
                        .arg(&elf),
                )?);
            }
        }
        let (o50, omean) = p50_mean(&ours);
        let rival_text = if theirs.is_empty() {
            "n/a".to_string()
        } else {
            let (t50, tmean) = p50_mean(&theirs);
            format!("{t50:.1}/{tmean:.1} ms")
        };
        let ratio = if theirs.is_empty() {
            "n/a".to_string()
        } else {
            format!("{:.0}x", p50_mean(&theirs).0 / o50)
        };
        println!(
            "{case:<12} {:>22} {rival_text:>26} {ratio:>8}",
            format!("{o50:.2}/{omean:.2} ms")
        );
    }
    Ok(())
}
