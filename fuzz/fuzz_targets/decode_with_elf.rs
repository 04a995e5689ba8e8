//! Any bytes decoded against real firmware ELFs from `../shared/corpus/esp-coredump` (the
//! esp32 ELF for inputs whose first byte is even, the esp32c3 ELF otherwise), so the unwinders
//! and the symbolizer see hostile memory and registers. Without the corpus the target only
//! exercises the parsers. Seed it with the corpus dumps (see fuzz/README.md).
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use crashbox::decode::{self, Options, Symbolizer};
use libfuzzer_sys::fuzz_target;

fn load(case: &str) -> Option<Symbolizer> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/esp-coredump")
        .join(case)
        .join("app.elf");
    Symbolizer::new(std::fs::read(p).ok()?).ok()
}

static XTENSA: OnceLock<Option<Symbolizer>> = OnceLock::new();
static RISCV: OnceLock<Option<Symbolizer>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let sym = if data.first().is_some_and(|b| b & 1 == 0) {
        XTENSA.get_or_init(|| load("esp32")).as_ref()
    } else {
        RISCV.get_or_init(|| load("esp32c3")).as_ref()
    };
    if let Ok(a) = decode::decode(data, sym, &Options::default()) {
        let _ = a.report_text();
    }
});
