//! Any bytes as a firmware ELF: building a symbolizer must fail cleanly or succeed.
#![no_main]

use crashbox::decode::Symbolizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Symbolizer::new(data.to_vec());
});
