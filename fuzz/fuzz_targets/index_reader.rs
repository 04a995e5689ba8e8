//! Any bytes as a symbolization index image (`decode/index/`): opening must fail cleanly or
//! succeed. The input is tried as given and again with its checksum sealed, so the table
//! checks and every lookup see hostile tables; an index that opens decodes the corpus dumps
//! (both architectures) with it. Seed with indexes of the corpus ELFs (see fuzz/README.md).
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use crashbox::decode::{self, Options, Symbolizer};
use libfuzzer_sys::fuzz_target;

fn dumps() -> &'static Vec<Vec<u8>> {
    static DUMPS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    DUMPS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/esp-coredump");
        ["esp32", "esp32c3"]
            .iter()
            .filter_map(|c| std::fs::read(dir.join(c).join("coredump.b64")).ok())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = Symbolizer::from_index(data.to_vec(), None);
    let mut sealed = data.to_vec();
    decode::index::format::seal(&mut sealed);
    if let Ok(sym) = Symbolizer::from_index(sealed, None) {
        for dump in dumps() {
            if let Ok(a) = decode::decode(dump, Some(&sym), &Options::default()) {
                let _ = a.report_text();
            }
        }
    }
});
