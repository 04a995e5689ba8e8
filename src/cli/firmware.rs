//! `crashbox firmware upload|list`: the pipeline upload and the admin version list from the
//! command line, against the data dir (also while `serve` runs).

use std::path::PathBuf;

use clap::Subcommand;

use super::{layout, open_db, print_json};
use crate::config::Config;
use crate::firmware::service;
use crate::worker::Jobs;

#[derive(Debug, Subcommand)]
pub enum FirmwareCmd {
    /// Upload a firmware bundle (ZIP) or a legacy raw .bin for a model.
    Upload {
        /// The model code.
        #[arg(long)]
        model: String,
        /// The bundle (.zip) or app image (.bin).
        file: PathBuf,
        /// Store it without making it the model target (a canary build).
        #[arg(long)]
        no_target: bool,
        #[arg(long)]
        json: bool,
    },
    /// List a model's stored firmware versions, newest first.
    List {
        #[arg(long)]
        model: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: &Config, cmd: FirmwareCmd) -> anyhow::Result<()> {
    let db = open_db(config)?;
    match cmd {
        FirmwareCmd::Upload {
            model,
            file,
            no_target,
            json,
        } => {
            let size = std::fs::metadata(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
                .len();
            if size > config.max_bundle_bytes {
                return Err(service::too_large(config.max_bundle_bytes).into());
            }
            let body = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let layout = layout(config);
            layout.create_dirs()?;
            // No workers in this process: re-queued dumps are PENDING rows that `serve` picks up.
            let up = service::upload_with(
                &db,
                &layout,
                config,
                &Jobs::disabled(),
                &model,
                &body,
                &service::How {
                    make_target: !no_target,
                    actor: &crate::audit::Actor::Cli,
                },
            )?;
            for w in &up.warnings {
                eprintln!("warning: {w}");
            }
            if json {
                print_json(&up)?;
            } else {
                println!(
                    "uploaded firmware {} for model {}{}",
                    up.firmware_version,
                    up.code,
                    if up.has_elf {
                        ""
                    } else {
                        " (raw .bin, no ELF)"
                    }
                );
            }
        }
        FirmwareCmd::List { model, json } => {
            let versions = service::list(&db, &model)?;
            if json {
                print_json(&serde_json::json!({ "versions": versions }))?;
            } else {
                println!(
                    "{:<32} {:>10} {:<4} {:<28} SHA256",
                    "VERSION", "SIZE", "ELF", "UPLOADED"
                );
                for v in versions {
                    println!(
                        "{:<32} {:>10} {:<4} {:<28} {}{}",
                        v.version,
                        v.size,
                        if v.has_elf { "yes" } else { "no" },
                        v.uploaded_at,
                        v.sha256,
                        if v.current { "  (current)" } else { "" }
                    );
                }
            }
        }
    }
    Ok(())
}
