//! Decoder benchmark (`cargo bench --bench decode`, release): per corpus case, measured
//! separately like addr2line's benches:
//! - `build`: `Symbolizer::new` (reads symtab, DWARF unit index, FDE index, TCB layout);
//! - `cold`: build + first decode (what the first dump of a firmware version costs);
//! - `warm`: decode with a cached symbolizer (every later dump);
//! - peak RSS of a fresh process doing one cold decode plus warm repeats
//!   (`examples/decode --repeat`, read from `/proc/self/status` VmHWM);
//! - optionally Espressif's esp-coredump + gdb on the same dump, for the speed ratio, when
//!   `ESP_COREDUMP_BIN` (the `esp-coredump` script) and `ESP_GDB` (a gdb wrapper) are set.
//!
//! Plain `std::time`, many iterations, p50 and mean. Skips when the corpus is absent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crashbox::decode::{self, Options, Symbolizer};

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let p50 = v.get(v.len() / 2).copied().unwrap_or(0.0);
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    (p50, mean)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn example_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("examples").join("decode");
    p.exists().then_some(p)
}

fn peak_rss(elf: &Path, dump: &Path) -> Option<String> {
    let bin = example_bin()?;
    let out = Command::new(bin)
        .arg(elf)
        .arg(dump)
        .args(["--repeat", "200"])
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let kib: f64 = err
        .split("peak RSS ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    Some(format!("{:.1} MiB", kib / 1024.0))
}

fn esp_coredump(case: &str, elf: &Path, dump: &Path) -> Option<f64> {
    let bin = std::env::var("ESP_COREDUMP_BIN").ok()?;
    let gdb = std::env::var("ESP_GDB").ok()?;
    let chip = case.split('_').next()?;
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = Command::new(&bin)
            .args([
                "--chip",
                chip,
                "info_corefile",
                "-t",
                "b64",
                "--gdb",
                &gdb,
                "-c",
            ])
            .arg(dump)
            .arg(elf)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "esp-coredump failed on {case}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        times.push(ms(t));
    }
    Some(stats(times).0)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/esp-coredump");
    let Ok(entries) = std::fs::read_dir(&root) else {
        eprintln!("skipping: corpus not found at {}", root.display());
        return;
    };
    let mut cases: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("app.elf").exists())
        .collect();
    cases.sort();
    println!(
        "{:<12} {:>8} {:>16} {:>16} {:>16} {:>10} {:>16} {:>16}",
        "case",
        "ELF MB",
        "build p50/mean",
        "cold p50/mean",
        "warm p50/mean",
        "peak RSS",
        "esp-coredump p50",
        "ratio cold/warm"
    );
    for case in &cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let (elf_path, dump_path) = (case.join("app.elf"), case.join("coredump.b64"));
        let (Ok(elf), Ok(dump)) = (std::fs::read(&elf_path), std::fs::read(&dump_path)) else {
            continue;
        };
        let opts = Options::default();
        let (mut build, mut cold) = (Vec::new(), Vec::new());
        for _ in 0..30 {
            let t = Instant::now();
            let sym = Symbolizer::new(elf.clone()).expect("symbolizer");
            build.push(ms(t));
            let a = decode::decode(&dump, Some(&sym), &opts).expect("decode");
            cold.push(ms(t));
            std::hint::black_box(a);
        }
        let sym = Symbolizer::new(elf.clone()).expect("symbolizer");
        let _ = decode::decode(&dump, Some(&sym), &opts);
        let mut warm = Vec::new();
        for _ in 0..3000 {
            let t = Instant::now();
            let a = decode::decode(&dump, Some(&sym), &opts).expect("decode");
            warm.push(ms(t));
            std::hint::black_box(a);
        }
        let (b, c, w) = (stats(build), stats(cold), stats(warm));
        let rss = peak_rss(&elf_path, &dump_path).unwrap_or_else(|| "n/a".into());
        // Stock gdb-multiarch has no Xtensa: esp-coredump is timed on RISC-V cases only.
        let esp = if sym.arch() == Some(decode::Arch::Riscv) {
            esp_coredump(&name, &elf_path, &dump_path)
        } else {
            None
        };
        println!(
            "{:<12} {:>8.1} {:>16} {:>16} {:>16} {:>10} {:>16} {:>16}",
            name,
            elf.len() as f64 / 1e6,
            format!("{:.2}/{:.2} ms", b.0, b.1),
            format!("{:.2}/{:.2} ms", c.0, c.1),
            format!("{:.3}/{:.3} ms", w.0, w.1),
            rss,
            esp.map(|e| format!("{e:.0} ms"))
                .unwrap_or_else(|| "n/a".into()),
            esp.map(|e| format!("{:.0}x/{:.0}x", e / c.0, e / w.0))
                .unwrap_or_else(|| "n/a".into()),
        );
    }
    println!(
        "(cold = Symbolizer::new + first decode; warm = decode with the cached Symbolizer; ratios = esp-coredump p50 / our cold p50 and / our warm p50)"
    );
}
