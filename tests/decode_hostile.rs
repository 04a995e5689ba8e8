//! Hostile input on stable Rust: the decoder runs over many mutated and truncated versions of
//! synthetic dumps and (when present) the corpus dumps, over mutated firmware ELFs, and over
//! corpus ELFs whose DWARF (the compile units of the backtrace's functions, the location lists)
//! is damaged, for the evaluation of frame arguments, with a fixed-seed PRNG. It must never panic, every mutant must give either an analysis or a
//! decode error (the tallies are asserted), and the work stays within the decoder's own bounds
//! (`Options::max_tasks`, `Options::max_frames`, with `StopReason::MaxFrames` when a walk hits
//! the limit). No wall-clock assertions: timing belongs in `cargo bench --bench decode`. The
//! `fuzz/` targets do the same with coverage guidance under `cargo +nightly fuzz`.
//!
//! `DECODE_HOSTILE_ITERS` raises the iteration count (default 1500 per input).

mod decode_support;
mod support;

use std::path::Path;

use crashbox::decode::{
    self, Analysis, DecodeError, ElfData, Options, StopReason, Symbolizer, Warning,
};
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

/// Mutants per input: 1500, or more with `DECODE_HOSTILE_ITERS`. Never fewer: the PRNG is
/// seeded, so more iterations only add mutants, and the tallies asserted for 1500 still hold.
fn iters() -> usize {
    std::env::var("DECODE_HOSTILE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .max(1500)
}

/// The work of one decode stays within the limits it was given: at most `max_tasks` tasks, at
/// most `max_frames` frames per walk, and a walk that reports `MaxFrames` stopped exactly there.
fn assert_bounded(name: &str, a: &Analysis, opts: &Options) {
    assert!(
        a.tasks.len() <= opts.max_tasks,
        "{name}: {} tasks, limit {}",
        a.tasks.len(),
        opts.max_tasks
    );
    let walks = a.tasks.iter().flat_map(|t| {
        std::iter::once((t.thread, &t.frames, &t.stop_reason)).chain(
            t.interrupted
                .iter()
                .map(move |c| (t.thread, &c.frames, &c.stop_reason)),
        )
    });
    for (thread, frames, stop) in walks {
        assert!(
            frames.len() <= opts.max_frames,
            "{name}: thread {thread} has {} frames, limit {}",
            frames.len(),
            opts.max_frames
        );
        if let StopReason::MaxFrames { limit } = stop {
            assert_eq!(
                (*limit, frames.len()),
                (opts.max_frames, opts.max_frames),
                "{name}: thread {thread} stopped at the frame limit"
            );
        }
    }
}

/// What a batch of decodes gave: every one is either an analysis or a decode error.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    tried: usize,
    decoded: usize,
    rejected: usize,
}

impl Tally {
    /// Counts one decode result; an analysis must be bounded and must render.
    fn count(&mut self, name: &str, r: Result<Analysis, DecodeError>, opts: &Options) {
        self.tried += 1;
        match r {
            Ok(a) => {
                assert_bounded(name, &a, opts);
                // Rendering must not panic either.
                let _ = a.report_text();
                self.decoded += 1;
            }
            Err(_) => self.rejected += 1,
        }
    }

    fn add(&mut self, other: Tally) {
        self.tried += other.tried;
        self.decoded += other.decoded;
        self.rejected += other.rejected;
    }
}

/// Decodes `iters()` mutants of `input` and checks the tally: every mutant was tried and gave
/// exactly one outcome, and both outcomes occur (a batch the decoder rejects entirely, or
/// accepts entirely, would not test what this file claims to test).
fn run(name: &str, seed: u64, input: &[u8], sym: Option<&Symbolizer>) -> Tally {
    let opts = Options::default();
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    for _ in 0..iters() {
        let m = mutate(&mut rng, input);
        tally.count(name, decode::decode(&m, sym, &opts), &opts);
    }
    println!(
        "{name}: {} mutants, {} decoded (partial or full), {} rejected",
        tally.tried, tally.decoded, tally.rejected
    );
    assert_eq!(tally.tried, iters(), "{name}: every mutant was decoded");
    assert_eq!(tally.decoded + tally.rejected, tally.tried, "{name}");
    assert!(tally.decoded > 0, "{name}: no mutant decoded: {tally:?}");
    assert!(tally.rejected > 0, "{name}: no mutant rejected: {tally:?}");
    tally
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
    let images = images();
    let mut total = Tally::default();
    for (i, (name, app, img)) in images.iter().enumerate() {
        let sym = Symbolizer::new(app.clone()).unwrap();
        total.add(run(name, 0x9E37_79B9_7F4A_7C15 ^ i as u64, img, Some(&sym)));
        total.add(run(
            &format!("{name} (no ELF)"),
            0x1234_5678 ^ i as u64,
            img,
            None,
        ));
    }
    // Five images, each with and without its ELF.
    assert_eq!(images.len(), 5);
    assert_eq!(total.tried, 2 * images.len() * iters());
}

/// One corpus case: its partition image, its base64 text and its bare ELF core, mutated.
fn mutated_corpus_dump(case: &str) {
    let Some(dir) = support::corpus_case(case) else {
        return;
    };
    // The seeds of the former single loop over the sorted cases.
    let i = mutated_corpus_dump::CASES
        .iter()
        .position(|c| *c == case)
        .unwrap() as u64;
    let sym = Symbolizer::new(std::fs::read(dir.join("app.elf")).unwrap()).unwrap();
    let text = std::fs::read(dir.join("coredump.b64")).unwrap();
    let raw = support::corpus_image(&dir).unwrap();
    let mut total = Tally::default();
    total.add(run(&format!("{case} raw"), 77 + i, &raw, Some(&sym)));
    total.add(run(&format!("{case} text"), 99 + i, &text, Some(&sym)));
    // the bare ELF body, as the device uploader sends it
    let hl = decode_support::header_len(u32::from_le_bytes(raw[4..8].try_into().unwrap()));
    total.add(run(
        &format!("{case} bare"),
        555 + i,
        &raw[hl..raw.len() - 4],
        Some(&sym),
    ));
    assert_eq!(total.tried, 3 * iters());
}

support::corpus_cases!(mutated_corpus_dump: esp32, esp32c3, esp32c3_bin);

/// File ranges of the `.debug_info` compile units that hold the functions named in `names`,
/// and of `.debug_loc`: the DWARF the variable evaluator reads for those frames.
fn dwarf_ranges(elf: &[u8], names: &[String]) -> Vec<(usize, usize)> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(elf).unwrap();
    let range_of = |n: &str| {
        file.section_by_name(n)
            .and_then(|s| s.file_range())
            .map(|(o, l)| (o as usize, l as usize))
    };
    let load = |id: gimli::SectionId| -> Result<gimli::EndianSlice<'_, gimli::LittleEndian>, ()> {
        let data = file
            .section_by_name(id.name())
            .and_then(|s| s.data().ok())
            .unwrap_or(&[]);
        Ok(gimli::EndianSlice::new(data, gimli::LittleEndian))
    };
    let dwarf = gimli::Dwarf::load(load).unwrap();
    let (info_off, _) = range_of(".debug_info").unwrap();
    let mut out: Vec<(usize, usize)> = range_of(".debug_loc").into_iter().collect();
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        let mut entries = unit.entries();
        let mut holds = false;
        while let Ok(Some(e)) = entries.next_dfs() {
            if e.tag() == gimli::DW_TAG_subprogram
                && let Some(n) = e.attr_value(gimli::DW_AT_name)
                && let Ok(n) = dwarf.attr_string(&unit, n)
                && names.iter().any(|w| *n.to_string_lossy() == **w)
            {
                holds = true;
                break;
            }
        }
        if holds {
            out.push((info_off + header.offset().0, header.length_including_self()));
        }
    }
    out
}

/// The frame lines of a report.
fn frame_lines(a: &Analysis) -> Vec<String> {
    a.report_text()
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// A corpus firmware ELF whose compile units of the backtrace's functions and whose location
/// lists are damaged, decoding the corpus dump it belongs to: the decode must still succeed
/// (variables may turn into `<optimized out>` or errors, or vanish), stay bounded and render;
/// some damage must reach the frame lines (the slowest decode is printed, not asserted).
fn mutated_dwarf_of_corpus_elf(case: &str) {
    let Some(dir) = support::corpus_case(case) else {
        return;
    };
    let elf = std::fs::read(dir.join("app.elf")).unwrap();
    let dump = std::fs::read(dir.join("coredump.b64")).unwrap();
    let opts = Options::default();
    let clean = decode::decode(&dump, Some(&Symbolizer::new(elf.clone()).unwrap()), &opts).unwrap();
    let names: Vec<String> = clean
        .tasks
        .iter()
        .flat_map(|t| &t.frames)
        .filter(|f| !f.args.is_empty())
        .filter_map(|f| f.function.clone())
        .collect();
    let ranges = dwarf_ranges(&elf, &names);
    assert!(ranges.len() >= 2, "{case}: the units of {names:?} found");
    let mut rng = Rng(0xd1e5 + case.len() as u64);
    let (mut refused, mut changed, mut decodes) = (0, 0, Tally::default());
    let mut slowest = std::time::Duration::ZERO;
    const MUTANTS: usize = 60;
    for _ in 0..MUTANTS {
        let mut m = elf.clone();
        for _ in 0..1 + rng.below(32) {
            let (o, l) = ranges[rng.below(ranges.len())];
            let at = o + rng.below(l);
            m[at] = match rng.below(3) {
                0 => rng.next() as u8,
                1 => m[at] ^ (1 << rng.below(8)),
                _ => INTERESTING[rng.below(INTERESTING.len())] as u8,
            };
        }
        // The lazy one-shot path (`crashbox decode`, the index's DWARF) on the same damage:
        // it loads single units, and must hold up as the whole-file index does.
        if let Ok(lazy) = Symbolizer::new_lazy(ElfData::Heap(m.clone())) {
            decode::decode(&dump, Some(&lazy), &opts)
                .unwrap_or_else(|e| panic!("{case}: damaged DWARF failed the lazy decode: {e}"));
        }
        let Ok(sym) = Symbolizer::new(m) else {
            refused += 1;
            continue;
        };
        let t = std::time::Instant::now();
        let r = decode::decode(&dump, Some(&sym), &opts);
        slowest = slowest.max(t.elapsed());
        let a = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{case}: a damaged DWARF made the decode fail: {e}"));
        if frame_lines(a) != frame_lines(&clean) {
            changed += 1;
        }
        decodes.count(case, r, &opts);
    }
    println!(
        "{case}: {MUTANTS} damaged DWARFs, {refused} refused, {} decoded, {changed} with other frame lines, slowest decode {slowest:?}",
        decodes.decoded
    );
    assert!(decodes.decoded > 0, "{case}: every damaged ELF was refused");
    assert!(changed > 0, "{case}: no damage reached the frame lines");
}

support::corpus_cases!(mutated_dwarf_of_corpus_elf: esp32, esp32c3, esp32c3_bin);

#[test]
fn every_corpus_elf_gets_damaged_dwarf() {
    support::assert_corpus_cases_listed(mutated_dwarf_of_corpus_elf::CASES, |_| true);
}

#[test]
fn every_corpus_case_is_mutated() {
    support::assert_corpus_cases_listed(mutated_corpus_dump::CASES, |_| true);
}

#[test]
fn mutated_firmware_elfs_never_panic() {
    let opts = Options::default();
    let mut rng = Rng(42);
    let dumps = images();
    let (mut elfs_tried, mut elfs_refused) = (0, 0);
    let mut decodes = Tally::default();
    for (name, app, img) in &dumps {
        for _ in 0..iters() / 3 {
            let m = mutate(&mut rng, app);
            elfs_tried += 1;
            match Symbolizer::new(m) {
                Ok(sym) => decodes.count(name, decode::decode(img, Some(&sym), &opts), &opts),
                Err(_) => elfs_refused += 1,
            }
        }
    }
    println!(
        "{elfs_tried} mutated ELFs: {elfs_refused} refused, {} decodes ({} decoded, {} rejected)",
        decodes.tried, decodes.decoded, decodes.rejected
    );
    assert_eq!(elfs_tried, dumps.len() * (iters() / 3));
    // Every mutated ELF was either refused or used for exactly one decode.
    assert_eq!(elfs_refused + decodes.tried, elfs_tried);
    assert_eq!(decodes.decoded + decodes.rejected, decodes.tried);
    assert!(decodes.tried > 0, "every mutated ELF was refused");
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
    let opts = Options::default();
    let a = decode::decode(&core, None, &opts).unwrap();
    assert_bounded("600 tasks", &a, &opts);
    // Only the first `max_tasks` tasks are walked, and each walk (it could climb through all
    // 6000 segments) stops at `max_frames`.
    assert_eq!(a.tasks.len(), opts.max_tasks);
    assert!(
        a.warnings.iter().any(|w| matches!(
            w,
            Warning::TasksCapped { limit, .. } if *limit == opts.max_tasks
        )),
        "{:?}",
        a.warnings
    );
    let capped_notes = (a.warnings.iter())
        .filter(|w| matches!(w, Warning::TaskNotesCapped { .. }))
        .count();
    assert_eq!(
        capped_notes, 1,
        "the note cap is said once: {:?}",
        a.warnings
    );
    for t in &a.tasks {
        assert_eq!(t.frames.len(), opts.max_frames, "thread {}", t.thread);
        assert_eq!(
            t.stop_reason,
            StopReason::MaxFrames {
                limit: opts.max_frames
            },
            "thread {}",
            t.thread
        );
    }
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
