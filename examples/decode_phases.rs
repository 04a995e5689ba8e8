//! Where the first decode of a firmware version spends its time, phase by phase, and what the
//! index changes (run in release):
//!
//! ```text
//! cargo run --release --example decode_phases -- [ROUNDS]
//! ```
//!
//! Per corpus case, p50 over `ROUNDS` (default 30) of: unzipping the ELF out of a bundle,
//! SHA-256 of the ELF, `object` parse of the ELF, addr2line's unit index
//! (`Context::from_dwarf`), `Symbolizer::new` as a whole (these phases overlap on two threads),
//! a decode with it (first and repeated), building the index image, the index path as the
//! parse workers take it (read the `.idx` file, verify it with `Symbolizer::from_index`, map
//! the unpacked ELF beside it for its DWARF, decode), and `crashbox decode`'s in-process work
//! (map the ELF, `Symbolizer::new_lazy`, decode).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crashbox::decode::{self, ElfData, Options, Symbolizer};
use object::{Object, ObjectSection};
use sha2::Digest;

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn zip_of(elf: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut out);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("m.elf", opts).expect("zip");
    z.write_all(elf).expect("zip");
    z.finish().expect("zip");
    out.into_inner()
}

fn addr2line_index(elf: &[u8]) -> Option<()> {
    let file = object::File::parse(elf).ok()?;
    let load = |id: gimli::SectionId| -> Result<gimli::EndianSlice<'_, gimli::LittleEndian>, ()> {
        let data = file
            .section_by_name(id.name())
            .and_then(|s| s.data().ok())
            .unwrap_or(&[]);
        Ok(gimli::EndianSlice::new(data, gimli::LittleEndian))
    };
    let dwarf = gimli::Dwarf::load(load).ok()?;
    addr2line::Context::from_dwarf(dwarf).ok().map(|_| ())
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/esp-coredump");
    let tmp = tempfile::tempdir()?;
    println!("p50 of {rounds} rounds, ms");
    println!(
        "{:<12} {:>6} {:>6} {:>6} {:>9} {:>10} {:>7} {:>7} {:>8} {:>7} {:>9} {:>9} {:>9}",
        "case",
        "unzip",
        "sha256",
        "object",
        "a2l index",
        "Symbolizer",
        "decode1",
        "decodeN",
        "idx build",
        "idx KiB",
        "idx open",
        "idx total",
        "lazy one"
    );
    for case in ["esp32", "esp32c3", "esp32c3_bin"] {
        let dir = corpus.join(case);
        let Ok(elf) = std::fs::read(dir.join("app.elf")) else {
            continue;
        };
        let dump = std::fs::read(dir.join("coredump.b64"))?;
        let zipped = zip_of(&elf);
        let opts = Options::default();
        let mut t: Vec<Vec<f64>> = vec![Vec::new(); 11];
        let mut idx_len = 0;
        for _ in 0..rounds {
            let s = Instant::now();
            let mut a = zip::ZipArchive::new(std::io::Cursor::new(&zipped))?;
            let mut out = Vec::new();
            std::io::copy(&mut a.by_index(0)?, &mut out)?;
            t[0].push(ms(s));
            let s = Instant::now();
            std::hint::black_box(sha2::Sha256::digest(&elf));
            t[1].push(ms(s));
            let s = Instant::now();
            std::hint::black_box(
                object::File::parse(&*elf)
                    .map(|f| f.sections().count())
                    .ok(),
            );
            t[2].push(ms(s));
            let s = Instant::now();
            std::hint::black_box(addr2line_index(&elf));
            t[3].push(ms(s));
            let s = Instant::now();
            let sym = Symbolizer::new(elf.clone())?;
            t[4].push(ms(s));
            let s = Instant::now();
            std::hint::black_box(decode::decode(&dump, Some(&sym), &opts)?);
            t[5].push(ms(s));
            let s = Instant::now();
            std::hint::black_box(decode::decode(&dump, Some(&sym), &opts)?);
            t[6].push(ms(s));
            let s = Instant::now();
            let image = sym.to_index([0; 16])?;
            t[7].push(ms(s));
            idx_len = image.len();
            let path = tmp.path().join(format!("{case}.idx"));
            let elf_path = tmp.path().join(format!("{case}.elf"));
            std::fs::write(&path, &image)?;
            std::fs::write(&elf_path, &elf)?;
            // As the parse workers do: read and verify the index, map the unpacked ELF beside
            // it (its DWARF, one compile unit at a time, for arguments and locals), decode.
            let s = Instant::now();
            let ix = Symbolizer::from_index(std::fs::read(&path)?, Some(&[0; 16]))?
                .with_elf_dwarf(ElfData::map(&std::fs::File::open(&elf_path)?)?)?;
            t[8].push(ms(s));
            std::hint::black_box(decode::decode(&dump, Some(&ix), &opts)?);
            t[9].push(ms(s));
            // As `crashbox decode` does: map the ELF, lazy DWARF units, hash beside.
            let s = Instant::now();
            let lazy = Symbolizer::new_lazy(ElfData::map(&std::fs::File::open(&elf_path)?)?)?;
            std::hint::black_box(decode::decode(&dump, Some(&lazy), &opts)?);
            t[10].push(ms(s));
        }
        let v: Vec<f64> = t.into_iter().map(p50).collect();
        println!(
            "{case:<12} {:>6.2} {:>6.2} {:>6.2} {:>9.2} {:>10.2} {:>7.3} {:>7.3} {:>8.1} {:>7} {:>9.3} {:>9.3} {:>9.3}",
            v[0],
            v[1],
            v[2],
            v[3],
            v[4],
            v[5],
            v[6],
            v[7],
            idx_len / 1024,
            v[8],
            v[9],
            v[10]
        );
    }
    println!(
        "(idx open = read the index + verify CRC and tables + map the ELF beside it; idx total = \
         that + a decode; lazy one = crashbox decode's in-process work: map, new_lazy, decode)"
    );
    Ok(())
}
