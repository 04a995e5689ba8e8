//! Tiny decoder front end using only `crashbox::decode`:
//!
//! ```text
//! cargo run --example decode -- APP.elf DUMP [--json] [--chip C] [--rom-elf-dir D] [--repeat N]
//! ```
//! `DUMP` may be `-` for stdin. `--repeat N` decodes N times with one cached symbolizer and
//! prints timings and the peak RSS (`VmHWM`) to stderr, for the benchmark.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use crashbox::decode::{self, Chip, Options, Symbolizer};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let (mut json, mut repeat) = (false, 0usize);
    let mut opts = Options::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--chip" => {
                let c = args.next().ok_or("--chip needs a value")?;
                opts.chip = Some(Chip::from_name(&c).ok_or(format!("unknown chip {c}"))?);
            }
            "--rom-elf-dir" => {
                let d = args.next().ok_or("--rom-elf-dir needs a value")?;
                let dir = decode::rom_elfs_from_dir(std::path::Path::new(&d))
                    .map_err(|e| format!("{d}: {e}"))?;
                opts.rom_elfs = Some(Arc::new(dir));
            }
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--repeat needs a number")?;
            }
            _ => positional.push(a),
        }
    }
    let [elf_path, dump_path] = positional.as_slice() else {
        return Err(
            "usage: decode APP.elf DUMP [--json] [--chip C] [--rom-elf-dir D] [--repeat N]".into(),
        );
    };
    let elf = std::fs::read(elf_path).map_err(|e| format!("{elf_path}: {e}"))?;
    let dump = if dump_path == "-" {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| e.to_string())?;
        v
    } else {
        std::fs::read(dump_path).map_err(|e| format!("{dump_path}: {e}"))?
    };
    let t0 = Instant::now();
    let sym = Symbolizer::new(elf).map_err(|e| e.to_string())?;
    let build = t0.elapsed();
    let t1 = Instant::now();
    let analysis = decode::decode(&dump, Some(&sym), &opts).map_err(|e| e.to_string())?;
    let first = t1.elapsed();
    if repeat > 0 {
        let mut times = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            let t = Instant::now();
            let a = decode::decode(&dump, Some(&sym), &opts).map_err(|e| e.to_string())?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(a);
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let p50 = times.get(times.len() / 2).copied().unwrap_or(0.0);
        eprintln!(
            "symbolizer build {:.2} ms, first decode {:.2} ms, warm decode p50 {:.3} ms mean {:.3} ms ({} runs), peak RSS {} KiB",
            build.as_secs_f64() * 1e3,
            first.as_secs_f64() * 1e3,
            p50,
            mean,
            repeat,
            peak_rss_kib().unwrap_or(0)
        );
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&analysis).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", analysis.report_text());
    }
    Ok(())
}

/// `VmHWM` of this process (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
