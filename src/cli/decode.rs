//! `crashbox decode --elf APP.elf DUMP [--chip C] [--json] [--no-stack-scan]`: decode a core dump offline with the
//! built-in decoder and print the `info_corefile`-style report (or the analysis as JSON).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use crate::decode::{self, Engine, Symbolizer};

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
    /// Stop RISC-V backtraces at ROM code without a ROM ELF, as gdb does, instead of finding
    /// the callers by stack scanning (the report then matches gdb's frame for frame).
    #[arg(long)]
    pub no_stack_scan: bool,
}

pub fn run(config: &Config, args: DecodeArgs) -> anyhow::Result<()> {
    let chip = decode::parse_chip(args.chip.as_deref().unwrap_or(""))
        .map_err(|e| anyhow::anyhow!("--chip: {e}"))?;
    let engine =
        Engine::with_rom_dir(config.rom_elf_dir.as_deref())?.with_stack_scan(!args.no_stack_scan);
    let dump = decode::read_dump(&args.dump)?;
    // One dump, one use of the ELF: no cache, and only the DWARF units the dump's PCs are in
    // (`new_lazy`). It takes the bytes without a copy and hashes them on a second thread while
    // it parses (the cache would hash first, then copy: about 3 ms more for a 3.7 MB ELF).
    let symbolizer = match &args.elf {
        Some(path) => {
            let elf = decode::map_elf(path)?;
            Some(
                Symbolizer::new_lazy(elf)
                    .with_context(|| format!("cannot use {}", path.display()))?,
            )
        }
        None => None,
    };
    let analysis = engine
        .decode(&dump, symbolizer.as_ref(), chip)
        .context("cannot decode the core dump")?;
    if args.json {
        super::print_json(&analysis)?;
    } else {
        // Names and strings in the report come from the device: escape them for the terminal.
        print!("{}", crate::terminal::escape(&analysis.report_text()));
    }
    Ok(())
}
