//! Differential test against Espressif's esp-coredump + gdb on re-wrapped corpus dumps:
//! each RISC-V corpus dump is rebuilt as an ELF_SHA256_V2_2 image (12-byte header) and as
//! legacy binary BIN_V2 / BIN_V2_1 images (task records made from the ELF's TCB and stack
//! segments), then both decoders run and their reports must agree line for line, frame
//! arguments included (esp-coredump's version banner and ROM-ELF notice ignored).
//!
//! Runs only when `ESP_COREDUMP_BIN` (path of the `esp-coredump` script) and `ESP_GDB` (a gdb
//! for RISC-V, e.g. a wrapper around `gdb-multiarch -iex 'set osabi none'`) are set, and the
//! corpus is present; otherwise each test skips through `support::skip` (a failure under
//! `CI=true`). One test per case (`rewrapped::esp32c3`, ...); a further test checks that every
//! re-wrappable corpus case is listed. Xtensa is not covered: stock gdb-multiarch has no Xtensa
//! support.

mod decode_support;
mod support;

use std::process::Command;

use crashbox::decode::{self, Options, Symbolizer};
use decode_support::*;

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

/// (tcb, stack_start, tcb bytes, stack bytes) per CORE note, from an ELF core body.
fn tasks_of(body: &[u8]) -> Vec<(u32, u32, Vec<u8>, Vec<u8>)> {
    let phoff = u32_at(body, 28) as usize;
    let phnum = u16::from_le_bytes([body[44], body[45]]) as usize;
    let mut loads = Vec::new();
    let mut notes = Vec::new();
    for i in 0..phnum {
        let p = phoff + 32 * i;
        let (ty, off, va, sz) = (
            u32_at(body, p),
            u32_at(body, p + 4) as usize,
            u32_at(body, p + 8),
            u32_at(body, p + 16) as usize,
        );
        let data = body[off..off + sz].to_vec();
        if ty == 1 {
            loads.push((va, data));
        } else if ty == 4 {
            let mut o = 0;
            while o + 12 <= data.len() {
                let (nsz, dsz, nty) = (
                    u32_at(&data, o) as usize,
                    u32_at(&data, o + 4) as usize,
                    u32_at(&data, o + 8),
                );
                let name = &data[o + 12..o + 12 + nsz];
                let d = o + 12 + nsz.div_ceil(4) * 4;
                if name.starts_with(b"CORE") && nty == 1 {
                    notes.push(data[d..d + dsz].to_vec());
                }
                o = d + dsz.div_ceil(4) * 4;
            }
        }
    }
    notes
        .iter()
        .map(|n| {
            let (pid, sp) = (u32_at(n, 24), u32_at(n, 72 + 8));
            let ti = loads.iter().position(|(a, _)| *a == pid).unwrap();
            let st = loads
                .iter()
                .find(|(a, d)| *a <= sp && sp < a + d.len() as u32)
                .cloned()
                .unwrap_or_else(|| loads[ti + 1].clone());
            (pid, st.0, loads[ti].1.clone(), st.1)
        })
        .collect()
}

fn report_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            !l.starts_with("espcoredump.py")
                && !l.starts_with("The ROM ELF file")
                && !l.starts_with("WARNING:")
        })
        .map(str::to_string)
        .collect()
}

/// The chip ID of a dump this test can re-wrap: RISC-V, ELF_CRC32_V2_1.
fn rewrappable(raw: &[u8]) -> Option<u32> {
    let version = u32_at(raw, 4);
    let chip = version >> 16;
    // Xtensa (no gdb) or not an ELF_CRC32_V2_1 source.
    (![0, 2, 9].contains(&chip) && version & 0xFFFF == 0x0102).then_some(chip)
}

/// Re-wraps one corpus case three ways and compares both decoders' reports on each.
fn rewrapped(case: &str) {
    let (Ok(bin), Ok(gdb)) = (std::env::var("ESP_COREDUMP_BIN"), std::env::var("ESP_GDB")) else {
        return support::skip(
            "ESP_COREDUMP_BIN and ESP_GDB are not set (see .ci/install-sidecar.sh)",
        );
    };
    let Some(dir) = support::corpus_case(case) else {
        return;
    };
    let raw = support::corpus_image(&dir).unwrap();
    let chip =
        rewrappable(&raw).unwrap_or_else(|| panic!("{case} is not a RISC-V ELF_CRC32_V2_1 dump"));
    let tmp = tempfile::tempdir().unwrap();
    let body = raw[24..raw.len() - 4].to_vec();
    let mut b22 = body.clone();
    let at = b22
        .windows(18)
        .position(|w| w == b"ESP_CORE_DUMP_INFO")
        .unwrap()
        + 20;
    b22[at..at + 4].copy_from_slice(&((chip << 16) | 0x0104).to_le_bytes());
    let tasks = tasks_of(&body);
    let tcb_sz = tasks[0].2.len() as u32;
    let n = tasks.len() as u32;
    let recs = binary_body(&tasks, &[]);
    let variants = [
        (
            "v2_2",
            wrap((chip << 16) | 0x0104, &b22, 0, 0, 0, 3, false),
            12,
        ),
        (
            "bin_v2",
            wrap((chip << 16) | 0x0002, &recs, n, tcb_sz, 0, 0, false),
            20,
        ),
        (
            "bin_v2_1",
            wrap((chip << 16) | 0x0003, &recs, n, tcb_sz, 0, 3, false),
            24,
        ),
    ];
    let elf_path = dir.join("app.elf");
    let sym = Symbolizer::new(std::fs::read(&elf_path).unwrap()).unwrap();
    let chip_name = decode::Chip::from_id(chip as u16).unwrap().name();
    let mut compared = 0;
    for (v, image, hl) in variants {
        let path = tmp.path().join(format!("{case}_{v}.b64"));
        std::fs::write(&path, uart_text(&image, hl, false, false)).unwrap();
        let theirs = esp_coredump(&bin, &gdb, chip_name, &path, &elf_path);
        // gdb without a ROM ELF stops at the first ROM frame: compare with scanning off.
        let gdb_like = Options {
            stack_scan: false,
            ..Options::default()
        };
        let ours = decode::decode(&image, Some(&sym), &gdb_like)
            .unwrap()
            .report_text();
        assert_eq!(report_lines(&theirs), report_lines(&ours), "{case} {v}");
        println!("{case} {v}: identical");
        compared += 1;
    }
    assert_eq!(compared, 3, "{case}: every re-wrapped variant is compared");
}

/// The file offset in an ELF core body of the bytes at `addr` (a PT_LOAD), and of the
/// prstatus notes (one per task, in order).
fn load_offset(body: &[u8], addr: u32) -> Option<usize> {
    let phoff = u32_at(body, 28) as usize;
    let phnum = u16::from_le_bytes([body[44], body[45]]) as usize;
    (0..phnum).find_map(|i| {
        let p = phoff + 32 * i;
        let (ty, off, va, sz) = (
            u32_at(body, p),
            u32_at(body, p + 4) as usize,
            u32_at(body, p + 8),
            u32_at(body, p + 16),
        );
        (ty == 1 && va <= addr && addr - va < sz).then(|| off + (addr - va) as usize)
    })
}

fn prstatus_offsets(body: &[u8]) -> Vec<usize> {
    let phoff = u32_at(body, 28) as usize;
    let phnum = u16::from_le_bytes([body[44], body[45]]) as usize;
    let mut out = Vec::new();
    for i in 0..phnum {
        let p = phoff + 32 * i;
        let (ty, off, sz) = (
            u32_at(body, p),
            u32_at(body, p + 4) as usize,
            u32_at(body, p + 16) as usize,
        );
        if ty != 4 {
            continue;
        }
        let mut o = off;
        while o + 12 <= off + sz {
            let (nsz, dsz, nty) = (
                u32_at(body, o) as usize,
                u32_at(body, o + 4) as usize,
                u32_at(body, o + 8),
            );
            let d = o + 12 + nsz.div_ceil(4) * 4;
            if body[o + 12..o + 12 + nsz].starts_with(b"CORE") && nty == 1 {
                out.push(d);
            }
            o = d + dsz.div_ceil(4) * 4;
        }
    }
    out
}

/// Synthetic variations of a corpus dump's *values*, so gdb's value forms are checked against
/// gdb itself: the panic string the first frames point at rewritten with a quote, a backslash,
/// control and high bytes and a run of 15 equal characters; the same string without its NUL, so
/// it runs on into the memory after it (gdb's 200-character limit and `...`); and every task's
/// `a0` (x10) made negative. Each variation is re-wrapped as an ELF_SHA256_V2_2 image and both
/// decoders' reports must be identical, frame arguments included.
fn varied(case: &str) {
    let (Ok(bin), Ok(gdb)) = (std::env::var("ESP_COREDUMP_BIN"), std::env::var("ESP_GDB")) else {
        return support::skip(
            "ESP_COREDUMP_BIN and ESP_GDB are not set (see .ci/install-sidecar.sh)",
        );
    };
    let Some(dir) = support::corpus_case(case) else {
        return;
    };
    let raw = support::corpus_image(&dir).unwrap();
    let chip =
        rewrappable(&raw).unwrap_or_else(|| panic!("{case} is not a RISC-V ELF_CRC32_V2_1 dump"));
    let elf_path = dir.join("app.elf");
    let sym = Symbolizer::new(std::fs::read(&elf_path).unwrap()).unwrap();
    let mut body = raw[24..raw.len() - 4].to_vec();
    let at = body
        .windows(18)
        .position(|w| w == b"ESP_CORE_DUMP_INFO")
        .unwrap()
        + 20;
    body[at..at + 4].copy_from_slice(&((chip << 16) | 0x0104).to_le_bytes());
    // The string frame #0's first argument points at.
    let clean = decode::decode(&raw, Some(&sym), &Options::default()).unwrap();
    let arg = &clean.tasks[0].frames[0].args[0];
    let addr = u32::from_str_radix(
        arg.value
            .split(' ')
            .next()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let s_off = load_offset(&body, addr).expect("the string is in the dump");
    let len = body[s_off..].iter().position(|&b| b == 0).unwrap();
    assert!(
        len > 30,
        "{case}: the panic string is long enough to rewrite"
    );
    let mut crafted = b"q\"b\\s\n\t\x01\xff\x7f'".to_vec();
    crafted.extend([b'x'; 15]);
    while crafted.len() < len {
        crafted.push(b"abc"[crafted.len() % 3]);
    }
    crafted.truncate(len);
    let mut escaped = body.clone();
    escaped[s_off..s_off + len].copy_from_slice(&crafted);
    let mut unterminated = escaped.clone();
    unterminated[s_off + len] = b'A';
    let mut negative = body.clone();
    for o in prstatus_offsets(&body) {
        negative[o + 72 + 40..o + 72 + 44].copy_from_slice(&(-5i32).to_le_bytes());
    }
    let chip_name = decode::Chip::from_id(chip as u16).unwrap().name();
    let tmp = tempfile::tempdir().unwrap();
    for (v, b) in [
        ("escaped", escaped),
        ("unterminated", unterminated),
        ("negative", negative),
    ] {
        let image = wrap((chip << 16) | 0x0104, &b, 0, 0, 0, 3, false);
        let path = tmp.path().join(format!("{case}_{v}.b64"));
        std::fs::write(&path, uart_text(&image, 12, false, false)).unwrap();
        let theirs = esp_coredump(&bin, &gdb, chip_name, &path, &elf_path);
        let gdb_like = Options {
            stack_scan: false,
            ..Options::default()
        };
        let ours = decode::decode(&image, Some(&sym), &gdb_like)
            .unwrap()
            .report_text();
        let frame0 = |t: &str| {
            t.lines()
                .find(|l| l.starts_with("#0"))
                .unwrap_or("")
                .to_string()
        };
        println!(
            "{case} {v}:\n  gdb      {}\n  crashbox {}",
            frame0(&theirs),
            frame0(&ours)
        );
        assert_eq!(report_lines(&theirs), report_lines(&ours), "{case} {v}");
    }
}

support::corpus_cases!(varied: esp32c3, esp32c3_bin);

support::corpus_cases!(rewrapped: esp32c3, esp32c3_bin);

#[test]
fn every_rewrappable_corpus_case_has_a_test() {
    support::assert_corpus_cases_listed(rewrapped::CASES, |dir| {
        support::corpus_image(dir).is_some_and(|raw| rewrappable(&raw).is_some())
    });
}

#[test]
fn every_rewrappable_corpus_case_is_varied() {
    support::assert_corpus_cases_listed(varied::CASES, |dir| {
        support::corpus_image(dir).is_some_and(|raw| rewrappable(&raw).is_some())
    });
}

/// esp-coredump's `info_corefile` report of a base64 dump. Its gdb sometimes fails to read the
/// threads on a loaded machine ("Retrying reading threads information...", then empty task
/// names): that is the reference failing, not crashbox, so it is asked again (3 times at most).
fn esp_coredump(
    bin: &str,
    gdb: &str,
    chip: &str,
    dump: &std::path::Path,
    elf: &std::path::Path,
) -> String {
    let mut theirs = String::new();
    for _ in 0..3 {
        let out = Command::new(bin)
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
            .arg(dump)
            .arg(elf)
            .output()
            .unwrap();
        theirs = String::from_utf8_lossy(&out.stdout).to_string();
        if !theirs.contains("Retrying reading threads information") {
            break;
        }
        println!(
            "esp-coredump's gdb could not read the threads of {}; asking again",
            dump.display()
        );
    }
    theirs
}
