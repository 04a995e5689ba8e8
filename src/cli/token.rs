//! `crashbox token create|list|revoke`.

use clap::Subcommand;

use super::{open_db, output, print_json};
use crate::config::Config;
use crate::db::tokens::{self, Role};
use crate::fleet;
use crate::ids::TokenId;

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create an API token; printed once.
    Create {
        #[arg(long, value_enum)]
        role: Role,
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List API tokens.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API token.
    Revoke { id: i64 },
}

pub fn run(config: &Config, cmd: TokenCmd) -> anyhow::Result<()> {
    let db = open_db(config)?;
    match cmd {
        TokenCmd::Create { role, name, json } => {
            let t = fleet::tokens::create(&db, &name, role, &crate::audit::Actor::Cli)?;
            output(json, &t, |t| {
                format!(
                    "created {} token {} (id {})\ntoken: {}\n(the token is shown only now)",
                    t.role.as_str(),
                    t.name,
                    t.id,
                    t.token
                )
            })?;
        }
        TokenCmd::List { json } => {
            let list = tokens::list(&*db.conn()?)?;
            if json {
                print_json(&list)?;
            } else {
                println!(
                    "{:<5} {:<20} {:<9} {:<28} STATE",
                    "ID", "NAME", "ROLE", "LAST USED"
                );
                for t in list {
                    let state = if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<5} {:<20} {:<9} {:<28} {state}",
                        t.id,
                        t.name,
                        t.role.as_str(),
                        t.last_used_at.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        TokenCmd::Revoke { id } => {
            fleet::tokens::revoke(&db, TokenId(id), &crate::audit::Actor::Cli)?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}
