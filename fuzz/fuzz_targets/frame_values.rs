//! The evaluation of frame arguments and locals against hostile DWARF: the input is a list of
//! byte patches `(offset: u32 LE, value: u8)` applied to the compile units and location lists
//! of the corpus esp32c3 (RISC-V) or esp32 (Xtensa, first byte odd) firmware ELF, and the
//! corpus dump of that ELF is decoded with it. The decode must succeed and render; variables
//! may become `<optimized out>`, errors or vanish. Without the corpus the target does nothing.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use crashbox::decode::{self, Options, Symbolizer};
use libfuzzer_sys::fuzz_target;

/// A corpus case: its ELF, its dump, and the file ranges of its DWARF sections.
struct Case {
    elf: Vec<u8>,
    dump: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

/// The file range of each named section of a little-endian ELF32 (section headers read by
/// hand: this crate depends on crashbox and libfuzzer only).
fn section_ranges(elf: &[u8], names: &[&str]) -> Vec<(usize, usize)> {
    let u32_at = |o: usize| -> Option<usize> {
        Some(u32::from_le_bytes(elf.get(o..o + 4)?.try_into().ok()?) as usize)
    };
    let u16_at = |o: usize| -> Option<usize> {
        Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?) as usize)
    };
    let (Some(shoff), Some(shnum), Some(shstrndx)) = (u32_at(32), u16_at(48), u16_at(50)) else {
        return Vec::new();
    };
    let sh = |i: usize, field: usize| u32_at(shoff + 40 * i + field);
    let Some(strtab) = sh(shstrndx, 16) else {
        return Vec::new();
    };
    (0..shnum)
        .filter_map(|i| {
            let name_off = strtab + sh(i, 0)?;
            let end = elf.get(name_off..)?.iter().position(|&b| b == 0)?;
            let name = std::str::from_utf8(elf.get(name_off..name_off + end)?).ok()?;
            names
                .contains(&name)
                .then(|| Some((sh(i, 16)?, sh(i, 20)?)))
                .flatten()
        })
        .filter(|&(o, l)| l > 0 && o + l <= elf.len())
        .collect()
}

fn load(case: &str) -> Option<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/esp-coredump")
        .join(case);
    let elf = std::fs::read(dir.join("app.elf")).ok()?;
    let dump = std::fs::read(dir.join("coredump.b64")).ok()?;
    let ranges = section_ranges(&elf, &[".debug_info", ".debug_loc", ".debug_abbrev"]);
    Some(Case { elf, dump, ranges })
}

static XTENSA: OnceLock<Option<Case>> = OnceLock::new();
static RISCV: OnceLock<Option<Case>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let case = if data.first().is_some_and(|b| b & 1 == 1) {
        XTENSA.get_or_init(|| load("esp32")).as_ref()
    } else {
        RISCV.get_or_init(|| load("esp32c3")).as_ref()
    };
    let Some(case) = case else { return };
    if case.ranges.is_empty() {
        return;
    }
    let mut elf = case.elf.clone();
    for patch in data.get(1..).unwrap_or(&[]).chunks_exact(5) {
        let at = u32::from_le_bytes([patch[0], patch[1], patch[2], patch[3]]) as usize;
        let (o, l) = case.ranges[at % case.ranges.len()];
        elf[o + (at / case.ranges.len()) % l] = patch[4];
    }
    let Ok(sym) = Symbolizer::new(elf) else { return };
    let a = decode::decode(&case.dump, Some(&sym), &Options::default())
        .expect("a damaged DWARF must not make the decode fail");
    let _ = a.report_text();
});
