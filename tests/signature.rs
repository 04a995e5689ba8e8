//! Crash signatures (`groups::signature`) over the real dumps of
//! `../shared/corpus/esp-coredump/`: the built-in decoder's analysis, esp-coredump's text
//! (`expected_output`) and the decoder's own text report must give one signature per dump, and
//! the three cases (one test app built for two chips and two ESP-IDF versions) one signature
//! between them. A missing corpus or case is a skip through `support::skip`.

mod support;

use std::path::Path;

use crashbox::decode::{Analysis, ElfMatch, Engine};
use crashbox::groups::signature::{self, Signature};

/// The model code used for every case: the same app on every chip.
const MODEL: &str = "esp-coredump-test-app";

/// The case's dump decoded with its own firmware ELF.
fn decode(engine: &Engine, dir: &Path) -> Analysis {
    decode_with(engine, dir, &dir.join("app.elf"))
}

fn decode_with(engine: &Engine, dir: &Path, elf: &Path) -> Analysis {
    let dump = support::corpus_image(dir).expect("coredump.b64");
    let elf = std::fs::read(elf).expect("app.elf");
    let symbolizer = engine.symbolizer(&elf, None).expect("symbolizer");
    engine
        .decode(&dump, Some(&symbolizer), None)
        .expect("decodes")
}

fn expected_output(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("expected_output")).expect("expected_output")
}

fn check(case: &str) {
    let Some(dir) = support::corpus_case(case) else {
        return;
    };
    let engine = Engine::new();
    let analysis = decode(&engine, &dir);
    let from_analysis = signature::from_analysis(MODEL, &analysis).expect("analysis signature");
    let from_gdb =
        signature::from_report_text(MODEL, &expected_output(&dir)).expect("gdb text signature");
    let from_report =
        signature::from_report_text(MODEL, &analysis.report_text()).expect("report text signature");
    support::tell(&format!(
        "{case}: reason={} frames={:?} in_app={} top_frame={:?} title={:?} {}",
        from_analysis.reason,
        from_analysis.frames,
        from_analysis.in_app,
        from_analysis.top_frame,
        from_analysis.title,
        from_analysis.hash
    ));

    assert_eq!(
        from_gdb, from_analysis,
        "{case}: esp-coredump text vs analysis"
    );
    assert_eq!(
        from_report, from_analysis,
        "{case}: report text vs analysis"
    );
    let want = Signature {
        hash: from_analysis.hash.clone(),
        reason: "abort".into(),
        frames: vec!["fail_once".into()],
        in_app: true,
        title: "abort() in fail_once (test_core_dump.c:14)".into(),
        top_frame: Some(3),
    };
    assert_eq!(from_analysis, want, "{case}");
    assert!(
        from_analysis.hash.starts_with("v1:") && from_analysis.hash.len() == 3 + 64,
        "{}",
        from_analysis.hash
    );

    // Without the firmware ELF the dump stays ungrouped.
    let dump = support::corpus_image(&dir).unwrap();
    let bare = engine
        .decode(&dump, None, None)
        .expect("decodes without ELF");
    assert_eq!(
        signature::from_analysis(MODEL, &bare),
        None,
        "{case} without ELF"
    );
}

support::corpus_cases!(check: esp32, esp32c3, esp32c3_bin);

#[test]
fn every_corpus_case_has_a_signature_test() {
    support::assert_corpus_cases_listed(check::CASES, |_| true);
}

/// One bug, three builds (esp32 and esp32c3, ESP-IDF v5.3-dev and v5.4-dev, other PCs, lines
/// of the abort path and paths): one signature.
#[test]
fn one_bug_across_chips_and_builds() {
    let engine = Engine::new();
    let mut hashes = Vec::new();
    for case in check::CASES {
        let Some(dir) = support::corpus_case(case) else {
            return;
        };
        let a = decode(&engine, &dir);
        hashes.push(signature::from_analysis(MODEL, &a).expect("signature").hash);
        hashes.push(
            signature::from_report_text(MODEL, &expected_output(&dir))
                .expect("signature")
                .hash,
        );
    }
    hashes.dedup();
    assert_eq!(hashes.len(), 1, "{hashes:?}");
    // The model is part of the hash.
    let Some(dir) = support::corpus_case("esp32") else {
        return;
    };
    let a = decode(&engine, &dir);
    assert_ne!(
        signature::from_analysis("other-model", &a).unwrap().hash,
        hashes[0]
    );
}

/// A dump decoded with another build's ELF has unreliable frames: no signature.
#[test]
fn wrong_elf_is_not_grouped() {
    let Some(c3) = support::corpus_case("esp32c3") else {
        return;
    };
    let Some(c3_bin) = support::corpus_case("esp32c3_bin") else {
        return;
    };
    let engine = Engine::new();
    let a = decode_with(&engine, &c3, &c3_bin.join("app.elf"));
    assert_eq!(a.elf_match, ElfMatch::Mismatch);
    assert_eq!(signature::from_analysis(MODEL, &a), None);
}
