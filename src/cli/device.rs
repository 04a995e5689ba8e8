//! `crashbox device add|list|token|rm`.

use clap::Subcommand;

use super::{layout, open_db, output, print_json};
use crate::config::Config;
use crate::db::devices;
use crate::fleet;

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
}

pub fn run(config: &Config, cmd: DeviceCmd) -> anyhow::Result<()> {
    let db = open_db(config)?;
    match cmd {
        DeviceCmd::Add { model, name, json } => {
            let d = fleet::devices::create(&db, &model, name.as_deref())?;
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
                    "{:<5} {:<9} {:<20} {:<20} {:>6} LAST DUMP",
                    "ID", "KEY", "MODEL", "NAME", "DUMPS"
                );
                for d in list {
                    println!(
                        "{:<5} {:<9} {:<20} {:<20} {:>6} {}",
                        d.id,
                        d.key,
                        d.model,
                        d.name,
                        d.coredump_count,
                        d.last_coredump_at
                            .map_or_else(|| "-".to_string(), |t| t.to_string())
                    );
                }
            }
        }
        DeviceCmd::Token { key, json } => {
            let device = fleet::devices::find_by_key(&db, &key)?;
            let d = fleet::devices::rotate_token(&db, device.id)?;
            output(json, &d, |d| {
                format!(
                    "new token for {}: {}\n(the token is shown only now)",
                    d.key, d.token
                )
            })?;
        }
        DeviceCmd::Rm { key } => {
            let device = fleet::devices::find_by_key(&db, &key)?;
            fleet::devices::delete(&db, &layout(config), device.id)?;
            println!("removed device {key}");
        }
    }
    Ok(())
}
