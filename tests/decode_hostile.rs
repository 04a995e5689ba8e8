//! Hostile input on stable Rust: the decoder runs over many mutated and truncated versions of
//! synthetic dumps and (when present) the corpus dumps, and over mutated firmware ELFs, with a
//! fixed-seed PRNG. It must never panic and never take long. The `fuzz/` targets do the same
//! with coverage guidance under `cargo +nightly fuzz`.
//!
//! `DECODE_HOSTILE_ITERS` raises the iteration count (default 1500 per input).

mod decode_support;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use crashbox::decode::{self, Options, Symbolizer};
use decode_support::*;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: [u32; 10] = [
    0,
    1,
    4,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0xdead_beef,
    0x3ffb_0000,
    0x4000_0000,
    0x0000_ffff,
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if v.is_empty() {
            v.push(rng.next() as u8);
        }
        let len = v.len();
        match rng.below(8) {
            0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 | 3 => {
                // interesting u32, biased to the header and program headers
                let i = if rng.below(2) == 0 {
                    rng.below(len.min(200))
                } else {
                    rng.below(len)
                };
                let w = INTERESTING[rng.below(INTERESTING.len())].to_le_bytes();
                for (k, b) in w.iter().enumerate() {
                    if let Some(slot) = v.get_mut(i + k) {
                        *slot = *b;
                    }
                }
            }
            4 => v.truncate(rng.below(len)),
            5 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                let chunk = v[a..b].to_vec();
                let at = rng.below(len);
                v.splice(at..at, chunk);
            }
            6 => {
                let a = rng.below(len);
                let b = (a + rng.below(256)).min(len);
                v.drain(a..b);
            }
            _ => {
                let n = rng.below(32);
                for _ in 0..n {
                    v.push(rng.next() as u8);
                }
            }
        }
    }
    v
}

fn iters() -> usize {
    std::env::var("DECODE_HOSTILE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

fn run(name: &str, seed: u64, input: &[u8], sym: Option<&Symbolizer>) {
    let mut rng = Rng(seed);
    let mut ok = 0usize;
    let mut slowest = Duration::ZERO;
    for _ in 0..iters() {
        let m = mutate(&mut rng, input);
        let t = Instant::now();
        let r = decode::decode(&m, sym, &Options::default());
        let dt = t.elapsed();
        slowest = slowest.max(dt);
        assert!(
            dt < Duration::from_secs(2),
            "{name}: one decode took {dt:?}"
        );
        if let Ok(a) = r {
            ok += 1;
            // Rendering must not panic either.
            let _ = a.report_text();
        }
    }
    println!(
        "{name}: {} mutants, {ok} decoded (partial or full), slowest {slowest:?}",
        iters()
    );
}

fn images() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let xa = xtensa_app();
    let ra = riscv_app();
    let xb = xtensa_core(&sha256_hex(&xa)[..9]);
    let rb = riscv_core(&sha256_hex(&ra)[..9]);
    let bin = binary_body(&xtensa_binary_tasks(), &[(0x3ffc_0000, vec![1, 2, 3, 4])]);
    vec![
        ("xtensa-bare".into(), xa.clone(), xb.clone()),
        (
            "xtensa-v2_1".into(),
            xa.clone(),
            wrap(0x0102, &xb, 0, 0, 0, 300, true),
        ),
        (
            "xtensa-bin-v2".into(),
            xa.clone(),
            wrap(0x0002, &bin, 1, 340, 1, 0, false),
        ),
        (
            "riscv-v2_2".into(),
            ra.clone(),
            wrap((5 << 16) | 0x0104, &rb, 0, 0, 0, 3, false),
        ),
        (
            "riscv-b64".into(),
            ra.clone(),
            uart_text(
                &wrap((5 << 16) | 0x0102, &rb, 0, 0, 0, 3, false),
                24,
                true,
                true,
            )
            .into_bytes(),
        ),
    ]
}

#[test]
fn mutated_synthetic_dumps_never_panic() {
    for (i, (name, app, img)) in images().into_iter().enumerate() {
        let sym = Symbolizer::new(app).unwrap();
        run(&name, 0x9E37_79B9_7F4A_7C15 ^ i as u64, &img, Some(&sym));
        run(
            &format!("{name} (no ELF)"),
            0x1234_5678 ^ i as u64,
            &img,
            None,
        );
    }
}

#[test]
fn mutated_corpus_dumps_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/esp-coredump");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: corpus not found at {}", dir.display());
        return;
    };
    let mut cases: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("app.elf").exists())
        .collect();
    cases.sort();
    for (i, case) in cases.iter().enumerate() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let sym = Symbolizer::new(std::fs::read(case.join("app.elf")).unwrap()).unwrap();
        let text = std::fs::read(case.join("coredump.b64")).unwrap();
        let raw: Vec<u8> = String::from_utf8_lossy(&text)
            .lines()
            .filter_map(|l| {
                base64::engine::general_purpose::STANDARD
                    .decode(l.trim())
                    .ok()
            })
            .flatten()
            .collect();
        run(&format!("{name} raw"), 77 + i as u64, &raw, Some(&sym));
        run(&format!("{name} text"), 99 + i as u64, &text, Some(&sym));
        // the bare ELF body, as the device uploader sends it
        let hl = decode_support::header_len(u32::from_le_bytes(raw[4..8].try_into().unwrap()));
        run(
            &format!("{name} bare"),
            555 + i as u64,
            &raw[hl..raw.len() - 4],
            Some(&sym),
        );
    }
}

#[test]
fn mutated_firmware_elfs_never_panic() {
    let mut rng = Rng(42);
    let dumps = images();
    for (name, app, img) in &dumps {
        for _ in 0..iters() / 3 {
            let m = mutate(&mut rng, app);
            if let Ok(sym) = Symbolizer::new(m) {
                let t = Instant::now();
                let _ =
                    decode::decode(img, Some(&sym), &Options::default()).map(|a| a.report_text());
                assert!(t.elapsed() < Duration::from_secs(2), "{name}");
            }
        }
    }
}

/// Regression: inputs that once crashed or misbehaved stay fixed.
#[test]
fn regressions() {
    // e_phnum huge with e_phoff past the end: bounded, clear result.
    let mut core = xtensa_core("000000000");
    core[44..46].copy_from_slice(&0xffffu16.to_le_bytes());
    let _ = decode::decode(&core, None, &Options::default());
    // A note claiming a huge descsz.
    let mut n = note("CORE", 1, &[0u8; 8]);
    n[4..8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let core = elf_core(XTENSA, &n, &[], &[]);
    let a = decode::decode(&core, None, &Options::default()).unwrap();
    assert!(!a.warnings.is_empty());
    // Thousands of segments and hundreds of tasks: lookups must bisect, work stays bounded.
    let mut notes = Vec::new();
    let mut loads = Vec::new();
    for i in 0..600u32 {
        let sp = 0x3ff0_0000 + i * 0x100 + 0x40;
        let mut a = [0u32; 16];
        a[0] = 0x800d_0100;
        a[1] = sp;
        notes.extend(note(
            "CORE",
            1,
            &prstatus_xtensa(0x3ffa_0000 + i * 0x10, 0x400d_0000, 0x60820, a),
        ));
    }
    for i in 0..6000u32 {
        let base = 0x3ff0_0000 + i * 0x100;
        let mut region = vec![0u8; 0x100];
        // base save area: return into the same function, SP one segment up
        poke(&mut region, base, base + 0x30, 0x800d_0100);
        poke(&mut region, base, base + 0x34, base + 0x140);
        loads.push((base, region));
    }
    let core = elf_core(XTENSA, &notes, &loads, &[]);
    let t = Instant::now();
    let a = decode::decode(&core, None, &Options::default()).unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    assert!(a.tasks.len() <= 256);
    // A header whose data_len is smaller than header + checksum.
    let tiny = le(&[8, 0x0102, 0, 0, 0, 0]);
    assert!(decode::decode(&tiny, None, &Options::default()).is_err());
}

/// Writes the synthetic dumps and firmware ELFs as fuzz seeds:
/// `DECODE_SEED_DIR=/tmp/seeds cargo test --test decode_hostile write_fuzz_seeds -- --ignored`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = std::env::var("DECODE_SEED_DIR").unwrap_or_else(|_| "/tmp/crashbox-seeds".into());
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir.join("elf")).unwrap();
    for (name, app, img) in images() {
        std::fs::write(dir.join(format!("{name}.dump")), img).unwrap();
        std::fs::write(dir.join("elf").join(format!("{name}.elf")), app).unwrap();
    }
}
