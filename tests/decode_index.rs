//! The symbolization index (and the lazy one-shot path of `crashbox decode`) against the ELF
//! path: identical `Analysis` JSON and reports on the corpus and on synthetic dumps, and a
//! damaged, truncated, old-format or stale index is refused (never trusted, never a panic),
//! while a hostile index with a valid checksum still decodes without panicking.

mod decode_support;
mod support;

use crashbox::decode::index::{FORMAT_VERSION, IndexError};
use crashbox::decode::{self, ElfData, Options, Symbolizer};
use decode_support::*;

const STAMP: [u8; 16] = *b"0123456789abcdef";

/// The ELF path, and the index path as the parse workers use it: the index plus the ELF's
/// DWARF, loaded lazily (frame arguments and locals).
fn both(elf: Vec<u8>) -> (Symbolizer, Symbolizer) {
    let from_elf = Symbolizer::new(elf.clone()).expect("ELF");
    let image = from_elf.to_index(STAMP).expect("index");
    let from_index = Symbolizer::from_index(image, Some(&STAMP))
        .expect("open")
        .with_elf_dwarf(ElfData::Heap(elf))
        .expect("the ELF of the index");
    (from_elf, from_index)
}

fn same_analysis(dump: &[u8], a: &Symbolizer, b: &Symbolizer, opts: &Options, what: &str) {
    let x = decode::decode(dump, Some(a), opts);
    let y = decode::decode(dump, Some(b), opts);
    match (x, y) {
        (Ok(x), Ok(y)) => {
            assert_eq!(
                serde_json::to_string(&x).unwrap(),
                serde_json::to_string(&y).unwrap(),
                "{what}: analysis JSON differs"
            );
            assert_eq!(x.report_text(), y.report_text(), "{what}: report differs");
            assert!(!x.tasks.is_empty(), "{what}: nothing decoded");
        }
        (x, y) => assert_eq!(
            x.map(|_| ()).map_err(|e| e.to_string()),
            y.map(|_| ()).map_err(|e| e.to_string()),
            "{what}"
        ),
    }
}

#[test]
fn corpus_decodes_identically_from_the_index_and_the_elf() {
    let Some(dir) = support::corpus_or_skip() else {
        return;
    };
    let mut cases = 0;
    for case in support::corpus_case_names() {
        let elf = std::fs::read(dir.join(&case).join("app.elf")).unwrap();
        let dump = std::fs::read(dir.join(&case).join("coredump.b64")).unwrap();
        // `crashbox decode`'s one-shot path: DWARF units loaded on first use.
        let lazy = Symbolizer::new_lazy(ElfData::Heap(elf.clone())).expect("ELF");
        let (e, i) = both(elf);
        for stack_scan in [true, false] {
            let opts = Options {
                stack_scan,
                ..Options::default()
            };
            same_analysis(&dump, &e, &i, &opts, &format!("{case} scan={stack_scan}"));
            same_analysis(
                &dump,
                &e,
                &lazy,
                &opts,
                &format!("{case} lazy scan={stack_scan}"),
            );
        }
        cases += 1;
    }
    assert!(cases >= 3, "corpus has {cases} cases");
}

#[test]
fn synthetic_dumps_decode_identically_from_the_index_and_the_elf() {
    for (app, core) in [
        (xtensa_app(), xtensa_core as fn(&str) -> Vec<u8>),
        (riscv_app(), riscv_core),
    ] {
        let prefix = sha256_hex(&app)[..9].to_string();
        let (e, i) = both(app);
        same_analysis(&core(&prefix), &e, &i, &Options::default(), "synthetic");
        // A dump of another build: the ELF mismatch is reported alike.
        same_analysis(&core("000000000"), &e, &i, &Options::default(), "mismatch");
    }
}

fn set_crc(image: &mut [u8]) {
    crashbox::decode::index::format::seal(image);
}

#[test]
fn a_damaged_index_is_refused() {
    let image = Symbolizer::new(riscv_app())
        .unwrap()
        .to_index(STAMP)
        .unwrap();
    let open = |b: Vec<u8>| Symbolizer::from_index(b, Some(&STAMP)).map(|_| ());
    assert_eq!(open(image.clone()), Ok(()));
    // Truncated anywhere.
    for len in (0..image.len()).step_by(7).chain([image.len() - 1]) {
        assert!(open(image[..len].to_vec()).is_err(), "truncated to {len}");
    }
    // Longer than recorded.
    let mut longer = image.clone();
    longer.push(0);
    assert_eq!(open(longer), Err(IndexError::Truncated));
    // Any flipped byte: the checksum (or the header check) catches it.
    for at in (0..image.len()).step_by(3) {
        let mut bad = image.clone();
        bad[at] ^= 0x5a;
        assert!(open(bad).is_err(), "flip at {at} accepted");
    }
    // Another format version, even with a matching checksum.
    let mut old = image.clone();
    old[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    set_crc(&mut old);
    assert_eq!(open(old), Err(IndexError::Version(FORMAT_VERSION + 1)));
    // Not an index at all.
    assert_eq!(open(riscv_app()), Err(IndexError::NotAnIndex));
    assert_eq!(open(Vec::new()), Err(IndexError::Truncated));
    // Built for another bundle.
    assert!(matches!(
        Symbolizer::from_index(image.clone(), Some(&[0; 16])),
        Err(IndexError::Stale)
    ));
    assert!(Symbolizer::from_index(image, None).is_ok());
}

#[test]
fn a_hostile_index_with_a_valid_checksum_never_panics() {
    let app = riscv_app();
    let prefix = sha256_hex(&app)[..9].to_string();
    let core = riscv_core(&prefix);
    let xcore = xtensa_core(&prefix);
    let image = Symbolizer::new(app).unwrap().to_index(STAMP).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut opened = 0;
    for _ in 0..3000 {
        let mut bad = image.clone();
        for _ in 0..1 + next() % 8 {
            let at = 80 + (next() as usize) % (bad.len() - 80);
            bad[at] = next() as u8;
        }
        set_crc(&mut bad);
        if let Ok(s) = Symbolizer::from_index(bad, Some(&STAMP)) {
            opened += 1;
            let _ = decode::decode(&core, Some(&s), &Options::default());
            let _ = decode::decode(&xcore, Some(&s), &Options::default());
        }
    }
    assert!(
        opened > 100,
        "only {opened} mutants opened: the decode was barely exercised"
    );
}

/// Seeds for the `index_reader` fuzz target: the indexes of the corpus ELFs and of the
/// synthetic ones, written to `$DECODE_SEED_DIR/index/` (see fuzz/README.md).
#[test]
#[ignore]
fn write_index_seeds() {
    let dir = std::path::PathBuf::from(std::env::var("DECODE_SEED_DIR").expect("DECODE_SEED_DIR"))
        .join("index");
    std::fs::create_dir_all(&dir).unwrap();
    let mut elves = vec![
        ("xtensa".to_string(), xtensa_app()),
        ("riscv".into(), riscv_app()),
    ];
    if let Some(corpus) = support::corpus_dir() {
        for case in support::corpus_case_names() {
            elves.push((
                case.clone(),
                std::fs::read(corpus.join(case).join("app.elf")).unwrap(),
            ));
        }
    }
    for (name, elf) in elves {
        let image = Symbolizer::new(elf).unwrap().to_index(STAMP).unwrap();
        std::fs::write(dir.join(format!("{name}.idx")), image).unwrap();
    }
}
