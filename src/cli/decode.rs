//! `crashbox decode --elf APP.elf DUMP [--chip C] [--json]`: decode a core dump offline with the
//! built-in decoder and print the `info_corefile`-style report (or the analysis as JSON).

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use crate::decode::{self, Chip, Options, Symbolizer};

/// Largest dump read from a file or stdin (full flash partitions of big chips included).
const MAX_DUMP_BYTES: u64 = 64 << 20;

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The firmware ELF the dump came from.
    #[arg(long)]
    pub elf: Option<PathBuf>,
    /// The dump: bare ELF core, partition image, legacy binary or base64 text; `-` for stdin.
    pub dump: PathBuf,
    /// The chip, for dumps that do not record it (e.g. esp32c3).
    #[arg(long)]
    pub chip: Option<String>,
    /// Print the structured analysis as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(config: &Config, args: DecodeArgs) -> anyhow::Result<()> {
    let dump = read_dump(&args.dump)?;
    let symbolizer = match &args.elf {
        Some(path) => {
            let elf =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(Symbolizer::new(elf).with_context(|| format!("cannot use {}", path.display()))?)
        }
        None => None,
    };
    let mut opts = Options::default();
    if let Some(chip) = &args.chip {
        opts.chip = Some(
            chip.parse::<Chip>()
                .map_err(|e| anyhow::anyhow!("--chip {chip}: {e}"))?,
        );
    }
    if let Some(dir) = &config.rom_elf_dir {
        let roms = decode::rom_elfs_from_dir(dir)
            .with_context(|| format!("cannot read ROM ELFs in {}", dir.display()))?;
        opts.rom_elfs = Some(Arc::new(roms));
    }
    let analysis =
        decode::decode(&dump, symbolizer.as_ref(), &opts).context("cannot decode the core dump")?;
    if args.json {
        super::print_json(&analysis)?;
    } else {
        print!("{}", analysis.report_text());
    }
    Ok(())
}

fn read_dump(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_DUMP_BYTES + 1)
            .read_to_end(&mut buf)?;
    } else {
        let f =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        f.take(MAX_DUMP_BYTES + 1).read_to_end(&mut buf)?;
    }
    anyhow::ensure!(
        buf.len() as u64 <= MAX_DUMP_BYTES,
        "the dump is larger than {} MiB",
        MAX_DUMP_BYTES >> 20
    );
    Ok(buf)
}
