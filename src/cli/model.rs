//! `crashbox model add|list|rm`.

use clap::Subcommand;

use super::{layout, open_db, output, print_json};
use crate::config::Config;
use crate::db::models;
use crate::fleet;

#[derive(Debug, Subcommand)]
pub enum ModelCmd {
    /// Add a device model (CODE matches ^[a-z0-9_]{1,50}$).
    Add {
        code: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List models.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a model without devices (and its firmware files).
    Rm { code: String },
}

pub fn run(config: &Config, cmd: ModelCmd) -> anyhow::Result<()> {
    let db = open_db(config)?;
    match cmd {
        ModelCmd::Add { code, name, json } => {
            let m = fleet::models::create(&db, &code, name.as_deref(), &crate::audit::Actor::Cli)?;
            output(json, &m, |m| format!("added model {} ({})", m.code, m.name))?;
        }
        ModelCmd::List { json } => {
            let list = models::list(&*db.conn()?)?;
            if json {
                print_json(&list)?;
            } else {
                println!("{:<24} {:<24} {:>8} FIRMWARE", "CODE", "NAME", "DEVICES");
                for m in list {
                    println!(
                        "{:<24} {:<24} {:>8} {}",
                        m.code,
                        m.name,
                        m.device_count,
                        m.firmware_version.as_ref().map_or("-", |v| v.as_str())
                    );
                }
            }
        }
        ModelCmd::Rm { code } => {
            fleet::models::delete(&db, &layout(config), &code, &crate::audit::Actor::Cli)?;
            println!("removed model {code}");
        }
    }
    Ok(())
}
