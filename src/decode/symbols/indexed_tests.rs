//! Lookup-level equivalence of the index and the ELF path on the corpus ELFs: every answer
//! the decoder can ask for, at every chain boundary and its neighbours, at every halfword of
//! the executable sections (sampled) and at every FDE and symbol edge.

use std::path::PathBuf;

use super::super::Symbolizer;

fn corpus_elves() -> Vec<(String, Vec<u8>)> {
    let shared = std::env::var_os("CRASHBOX_SHARED_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let dir = shared.join("corpus/esp-coredump");
    let mut out = Vec::new();
    for case in ["esp32", "esp32c3", "esp32c3_bin"] {
        if let Ok(elf) = std::fs::read(dir.join(case).join("app.elf")) {
            out.push((case.to_string(), elf));
        }
    }
    if out.is_empty() {
        eprintln!("SKIPPED: corpus absent at {}", dir.display());
    }
    out
}

fn probes(elf: &Symbolizer) -> Vec<u32> {
    let mut v: Vec<u32> = Vec::new();
    for b in elf.chain_boundaries().unwrap_or_default() {
        v.extend([b.wrapping_sub(1), b, b.wrapping_add(1), b.wrapping_add(2)]);
    }
    for s in elf.symbols.iter().chain(&elf.abs_symbols) {
        v.extend([s.addr.wrapping_sub(1), s.addr, s.addr + s.size / 2]);
        v.extend([
            s.addr.wrapping_add(s.size).wrapping_sub(1),
            s.addr.wrapping_add(s.size),
        ]);
    }
    for f in &elf.fdes {
        v.extend([
            f.start as u32,
            (f.start as u32).wrapping_sub(1),
            f.end as u32,
        ]);
        v.push((f.end as u32).wrapping_sub(1));
    }
    for s in elf.sections.iter().filter(|s| s.is_exec()) {
        v.extend((s.addr..s.addr.saturating_add(s.size)).step_by(6));
        v.extend([s.addr.wrapping_sub(1), s.addr.wrapping_add(s.size)]);
    }
    v.extend([0, 1, u32::MAX, 0x4000_0000, 0x4200_0000]);
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn index_answers_every_lookup_like_the_elf() {
    for (case, bytes) in corpus_elves() {
        let elf = Symbolizer::new(bytes).expect("corpus ELF");
        let stamp = [7u8; 16];
        let t = std::time::Instant::now();
        let image = elf.to_index(stamp).expect("index");
        eprintln!(
            "{case}: index {} bytes built in {:?}",
            image.len(),
            t.elapsed()
        );
        let ix = Symbolizer::from_index(image, Some(&stamp)).expect("open");
        assert!(ix.is_indexed() && !elf.is_indexed());
        assert_eq!(ix.elf_sha256(), elf.elf_sha256(), "{case}");
        assert_eq!(ix.arch(), elf.arch(), "{case}");
        assert_eq!(ix.has_dwarf(), elf.has_dwarf(), "{case}");
        assert_eq!(ix.tcb_layout(), elf.tcb_layout(), "{case}");
        let facts = |s: &Symbolizer| -> Vec<(String, u32, u32, u32, u32)> {
            s.sections()
                .iter()
                .map(|x| (x.name.clone(), x.addr, x.size, x.sh_type, x.sh_flags))
                .collect()
        };
        assert_eq!(facts(&ix), facts(&elf), "{case}: sections");
        let probes = probes(&elf);
        let t = std::time::Instant::now();
        let mut checked = 0usize;
        for &a in &probes {
            assert_eq!(ix.source_frames(a), elf.source_frames(a), "{case} {a:#x}");
            assert_eq!(
                ix.function_symbol(a),
                elf.function_symbol(a),
                "{case} {a:#x}"
            );
            assert_eq!(ix.any_symbol(a), elf.any_symbol(a), "{case} {a:#x}");
            assert_eq!(
                ix.nearest_abs_symbol(a, 0x1000),
                elf.nearest_abs_symbol(a, 0x1000),
                "{case} {a:#x}"
            );
            // The ELF path scans a whole line program per answer: sample it.
            if checked.is_multiple_of(97) || (checked.is_multiple_of(11) && ix.starts_stmt_row(a)) {
                assert_eq!(
                    ix.starts_stmt_row(a),
                    elf.starts_stmt_row(a),
                    "{case} {a:#x}"
                );
            }
            assert_eq!(ix.is_code(a), elf.is_code(a), "{case} {a:#x}");
            assert_eq!(ix.code_byte(a), elf.code_byte(a), "{case} {a:#x}");
            let (r1, r2) = (ix.cfi_row(a), elf.cfi_row(a));
            assert_eq!(
                r1.as_ref()
                    .map(|r| (r.cfa, r.ra_column, r.rules().to_vec())),
                r2.as_ref()
                    .map(|r| (r.cfa, r.ra_column, r.rules().to_vec())),
                "{case} {a:#x}"
            );
            checked += 1;
        }
        eprintln!("{case}: {checked} probes in {:?}", t.elapsed());
        assert!(checked > 10_000, "{case}: only {checked} probes");
    }
}
