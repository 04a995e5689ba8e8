//! `crashbox group list|show|resolve|mute|reopen|merge|rebuild`: crash groups from the command
//! line (the same operations as `/api/groups`).

use clap::Subcommand;

use super::{open_db, output, print_json};
use crate::config::Config;
use crate::db::groups::{GroupStatus, Sort};
use crate::groups::service;
use crate::ids::GroupId;

/// The `group` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// List crash groups, open ones first.
    List {
        /// Only this model.
        #[arg(long)]
        model: Option<String>,
        /// Only this status: open, resolved or muted.
        #[arg(long)]
        status: Option<String>,
        /// Order: last_seen (default), count or devices.
        #[arg(long, default_value = "last_seen")]
        sort: String,
        /// Print {"groups": [...], "count": N}.
        #[arg(long)]
        json: bool,
    },
    /// Show one group with its versions and devices (as JSON).
    Show {
        /// The group id.
        id: i64,
    },
    /// Mark a group fixed (in --version, default: the model's current firmware version).
    Resolve {
        /// The group id.
        id: i64,
        /// The firmware version the fix ships in.
        #[arg(long)]
        version: Option<String>,
    },
    /// Mute a group (still counted, never reopened).
    Mute {
        /// The group id.
        id: i64,
    },
    /// Open a group again.
    Reopen {
        /// The group id.
        id: i64,
    },
    /// Merge group ID into group --into (future dumps of ID join --into).
    Merge {
        /// The group that goes away.
        id: i64,
        /// The group that stays.
        #[arg(long)]
        into: i64,
    },
    /// Sign every decoded dump again and move it to the group its signature leads to.
    Rebuild {
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `group` subcommand.
pub fn run(config: &Config, cmd: GroupCmd) -> anyhow::Result<()> {
    let db = open_db(config)?;
    let line = |g: &crate::db::groups::Group| {
        let regressed = if g.regressed { " (regressed)" } else { "" };
        format!(
            "{:<6} {:<9} {:>6} {:>7} {:<16} {}{regressed}",
            g.id,
            g.status.as_str(),
            g.count,
            g.devices,
            g.model,
            g.title
        )
    };
    match cmd {
        GroupCmd::List {
            model,
            status,
            sort,
            json,
        } => {
            let status =
                match status.as_deref() {
                    None => None,
                    Some(s) => Some(GroupStatus::parse(s).ok_or_else(|| {
                        anyhow::anyhow!("--status {s}: use open, resolved or muted")
                    })?),
                };
            let sort = Sort::parse(&sort)
                .ok_or_else(|| anyhow::anyhow!("--sort {sort}: use last_seen, count or devices"))?;
            let page = service::list(&db, model.as_deref(), status, sort, service::MAX_LIST, 0)?;
            if json {
                print_json(&serde_json::json!({"groups": page.rows, "count": page.total}))?;
            } else {
                println!(
                    "{:<6} {:<9} {:>6} {:>7} {:<16} TITLE",
                    "ID", "STATUS", "DUMPS", "DEVICES", "MODEL"
                );
                for g in &page.rows {
                    println!("{}", line(g));
                }
            }
        }
        GroupCmd::Show { id } => print_json(&service::detail(&db, GroupId(id))?.to_json())?,
        GroupCmd::Resolve { id, version } => {
            let g = service::resolve(
                &db,
                GroupId(id),
                version.as_deref(),
                &crate::audit::Actor::Cli,
            )?;
            println!("{}", line(&g));
        }
        GroupCmd::Mute { id } => println!(
            "{}",
            line(&service::mute(&db, GroupId(id), &crate::audit::Actor::Cli)?)
        ),
        GroupCmd::Reopen { id } => println!(
            "{}",
            line(&service::reopen(
                &db,
                GroupId(id),
                &crate::audit::Actor::Cli
            )?)
        ),
        GroupCmd::Merge { id, into } => {
            println!(
                "{}",
                line(&service::merge(
                    &db,
                    GroupId(id),
                    GroupId(into),
                    &crate::audit::Actor::Cli
                )?)
            )
        }
        GroupCmd::Rebuild { json } => {
            let r = service::rebuild(&db)?;
            output(json, &r, |r| {
                format!(
                    "looked at {} decoded dump(s): {} grouped, {} moved, {} new group(s)",
                    r.dumps, r.grouped, r.moved, r.created
                )
            })?;
        }
    }
    Ok(())
}
