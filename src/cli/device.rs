//! `crashbox device add|list|token|rm|pin|tag`.

use clap::Subcommand;

use super::{layout, open_db, output, print_json};
use crate::audit::Actor;
use crate::config::Config;
use crate::db::devices;
use crate::fleet;
use crate::rollout::service::{self as rollout, OtaInput};

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Add a device; prints its key and a new token once.
    Add {
        #[arg(long)]
        model: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List devices.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Issue a new token for a device (the old one stops working).
    Token {
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a device and its core dumps.
    Rm { key: String },
    /// Pin a device to a stored version, exclude it from updates, or let it follow the rollout
    /// again (`--clear`). Recorded in the audit log as `cli`.
    Pin {
        key: String,
        /// The stored version to pin it to.
        version: Option<String>,
        /// Exclude it from updates instead (it keeps what it runs).
        #[arg(long, conflicts_with_all = ["version", "clear"])]
        exclude: bool,
        /// Remove the pin or exclusion.
        #[arg(long, conflicts_with = "version")]
        clear: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set a device's tag (no tag: clear it).
    Tag { key: String, tag: Option<String> },
}

pub fn run(config: &Config, cmd: DeviceCmd) -> anyhow::Result<()> {
    let db = open_db(config)?;
    match cmd {
        DeviceCmd::Add { model, name, json } => {
            let d =
                fleet::devices::create(&db, &model, name.as_deref(), &crate::audit::Actor::Cli)?;
            output(json, &d, |d| {
                format!(
                    "added device {} (model {})\ntoken: {}\n(the token is shown only now)",
                    d.key, d.model, d.token
                )
            })?;
        }
        DeviceCmd::List { json } => {
            let list = devices::search(&*db.conn()?, "", i64::MAX, 0)?.rows;
            if json {
                print_json(&list)?;
            } else {
                println!(
                    "{:<5} {:<9} {:<20} {:<20} {:>6} {:<27} {:<16} LAST DUMP",
                    "ID", "KEY", "MODEL", "NAME", "DUMPS", "LAST SEEN", "RUNNING"
                );
                for d in list {
                    println!(
                        "{:<5} {:<9} {:<20} {:<20} {:>6} {:<27} {:<16} {}",
                        d.id,
                        d.key,
                        d.model,
                        d.name,
                        d.coredump_count,
                        d.last_seen_at
                            .map_or_else(|| "never".to_string(), |t| t.to_string()),
                        d.running_version.as_deref().unwrap_or("-"),
                        d.last_coredump_at
                            .map_or_else(|| "-".to_string(), |t| t.to_string())
                    );
                }
            }
        }
        DeviceCmd::Token { key, json } => {
            let device = fleet::devices::find_by_key(&db, &key)?;
            let d = fleet::devices::rotate_token(&db, device.id, &crate::audit::Actor::Cli)?;
            output(json, &d, |d| {
                format!(
                    "new token for {}: {}\n(the token is shown only now)",
                    d.key, d.token
                )
            })?;
        }
        DeviceCmd::Rm { key } => {
            let device = fleet::devices::find_by_key(&db, &key)?;
            fleet::devices::delete(&db, &layout(config), device.id, &crate::audit::Actor::Cli)?;
            println!("removed device {key}");
        }
        DeviceCmd::Pin {
            key,
            version,
            exclude,
            clear,
            json,
        } => {
            if version.is_none() && !exclude && !clear {
                anyhow::bail!("give a version to pin to, --exclude or --clear");
            }
            let device = fleet::devices::find_by_key(&db, &key)?;
            let input = OtaInput {
                pin: version,
                exclude,
            };
            let d = rollout::set_ota(&db, device.id, &input, &Actor::Cli)?;
            output(json, &d, |d| match (&d.pin, d.exclude) {
                (Some(p), _) => format!("device {} pinned to {p}", d.key),
                (None, true) => format!("device {} excluded from updates", d.key),
                (None, false) => format!("device {} follows the rollout", d.key),
            })?;
        }
        DeviceCmd::Tag { key, tag } => {
            let device = fleet::devices::find_by_key(&db, &key)?;
            let t = rollout::set_tag(&db, device.id, tag.as_deref(), &Actor::Cli)?;
            match t {
                Some(t) => println!("device {key} tagged {t}"),
                None => println!("device {key} has no tag"),
            }
        }
    }
    Ok(())
}
