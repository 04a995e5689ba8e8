//! Golden reports: the real binary's `crashbox decode` output for the synthetic fixtures of
//! `tests/decode_support`, compared byte for byte with `tests/golden/<case>.txt` (and
//! `<case>.json` for `--json`). `CRASHBOX_BLESS=1 cargo test --test golden` rewrites them; a
//! missing file is written (and said on stderr), except under `CI=true`, where it fails.
//!
//! The fixtures are deterministic (no randomness, no timestamps) and are written to a temp dir
//! that is the binary's working directory, so the reports name no temp paths.

mod decode_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use decode_support::*;

/// Input of one golden case: the firmware ELF (if any) and the dump bytes.
struct Fixture {
    elf: Option<Vec<u8>>,
    dump: Vec<u8>,
}

/// Runs `crashbox decode [--elf app.elf] dump [--json]` in a temp dir; its stdout.
fn decode_output(fx: &Fixture, json: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crashbox"));
    cmd.current_dir(dir.path())
        .env_remove("ESP_ROM_ELF_DIR")
        .env_remove("CRASHBOX_DATA_DIR")
        .args(["--data-dir", "data", "decode"]);
    if let Some(elf) = &fx.elf {
        std::fs::write(dir.path().join("app.elf"), elf).unwrap();
        cmd.args(["--elf", "app.elf"]);
    }
    std::fs::write(dir.path().join("dump"), &fx.dump).unwrap();
    cmd.arg("dump");
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "crashbox decode failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the report is UTF-8")
}

fn golden_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file)
}

/// Where `actual` first differs from `expected`: line number, both lines, and for long lines
/// (the one-line JSON) the first differing column with some context.
fn first_difference(expected: &str, actual: &str) -> String {
    let (mut e, mut a) = (expected.split('\n'), actual.split('\n'));
    for n in 1.. {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                let (x, y) = (x.unwrap_or("<end of file>"), y.unwrap_or("<end of output>"));
                let col = x.chars().zip(y.chars()).take_while(|(p, q)| p == q).count();
                let window = |s: &str| -> String {
                    if s.chars().count() <= 160 {
                        return s.to_string();
                    }
                    let start = col.saturating_sub(40);
                    format!("…{}…", s.chars().skip(start).take(120).collect::<String>())
                };
                return format!(
                    "first difference at line {n}, column {}:\n  expected: {}\n  actual:   {}",
                    col + 1,
                    window(x),
                    window(y)
                );
            }
        }
    }
    unreachable!()
}

/// Compares the output in `format` (`txt`: the report, `json`: `--json`) with
/// `tests/golden/<name>.<format>` exactly; blesses or writes the file when asked or missing (see
/// the module docs).
fn check_golden(name: &str, format: &str, fx: &Fixture) {
    let actual = decode_output(fx, format == "json");
    let file = format!("{name}.{format}");
    let path = golden_path(&file);
    let bless = std::env::var_os("CRASHBOX_BLESS").is_some_and(|v| v == "1");
    match std::fs::read_to_string(&path) {
        Ok(expected) if expected == actual => {}
        Ok(_) if bless => {
            std::fs::write(&path, &actual).unwrap();
            support::tell(&format!("BLESSED tests/golden/{file}"));
        }
        Ok(expected) => panic!(
            "tests/golden/{file} differs from the output; {}\n\
             (if the new output is right: CRASHBOX_BLESS=1 cargo test --test golden)",
            first_difference(&expected, &actual)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                !support::under_ci() || bless,
                "tests/golden/{file} is missing; it is required under CI=true \
                 (write it with CRASHBOX_BLESS=1 cargo test --test golden)"
            );
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &actual).unwrap();
            support::tell(&format!(
                "WROTE tests/golden/{file}: it was missing; check it and commit it"
            ));
        }
        Err(e) => panic!("cannot read tests/golden/{file}: {e}"),
    }
}

/// One `#[test]` per golden case: `name [txt, json] => fixture` checks `name.txt` and
/// `name.json`.
macro_rules! golden {
    ($($name:ident [$($format:ident),+] => $fixture:expr;)+) => {
        $(
            #[test]
            fn $name() {
                let fx: Fixture = $fixture;
                $(check_golden(stringify!($name), stringify!($format), &fx);)+
            }
        )+
    };
}

/// The Xtensa firmware and its matching bare ELF core (func_a <- func_b <- func_c through
/// base save areas; IDLE stopped on an ENTRY).
fn xtensa() -> (Vec<u8>, Vec<u8>) {
    let app = xtensa_app();
    let core = xtensa_core(&sha256_hex(&app)[..9]);
    (app, core)
}

/// The RISC-V firmware and its V2_1 partition image (store access fault, CFI unwinding, a
/// task returning into ROM).
fn riscv() -> (Vec<u8>, Vec<u8>) {
    let app = riscv_app();
    let core = riscv_core(&sha256_hex(&app)[..9]);
    let image = wrap((5 << 16) | 0x0102, &core, 0, 0, 0, 3, false);
    (app, image)
}

golden! {
    xtensa_panic [txt, json] => {
        let (app, core) = xtensa();
        Fixture { elf: Some(app), dump: core }
    };
    riscv_exception_uart [txt, json] => {
        let (app, image) = riscv();
        Fixture {
            elf: Some(app),
            dump: uart_text(&image, 24, true, false).into_bytes(),
        }
    };
    riscv_truncated [txt] => {
        // The partition image cut after two thirds: bad checksum, missing segments.
        let (app, image) = riscv();
        let cut = image.len() * 2 / 3;
        Fixture { elf: Some(app), dump: image[..cut].to_vec() }
    };
    xtensa_wrong_elf [txt] => {
        // A dump that records another firmware's SHA-256.
        let (app, _) = xtensa();
        Fixture { elf: Some(app), dump: xtensa_core("000000000") }
    };
    xtensa_no_elf [txt] => {
        let (_, core) = xtensa();
        Fixture { elf: None, dump: core }
    };
    xtensa_binary_v2 [txt] => {
        // Legacy binary format (BIN_V2): one task record and one memory segment.
        let body = binary_body(&xtensa_binary_tasks(), &[(0x3ffc_0000, vec![1, 2, 3, 4])]);
        Fixture {
            elf: Some(xtensa_app()),
            dump: wrap(0x0002, &body, 1, 340, 1, 0, false),
        }
    };
}
