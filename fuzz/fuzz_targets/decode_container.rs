//! Any bytes into the container sniffer and body parsers (no firmware ELF): must return,
//! never panic, and render.
#![no_main]

use crashbox::decode::{self, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = decode::decode(data, None, &Options::default()) {
        let _ = a.report_text();
    }
});
