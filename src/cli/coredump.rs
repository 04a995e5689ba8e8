//! `crashbox coredump reparse (--all-errors | ID...)`: puts dumps back in the parse queue. A
//! running `serve` on the same data dir picks them up within a few seconds (its sweeper); else
//! the next `serve` does.

use clap::Subcommand;

use super::{open_db, print_json};
use crate::config::Config;
use crate::ids::CoredumpId;
use crate::worker::{Jobs, reparse};

#[derive(Debug, Subcommand)]
pub enum CoredumpCmd {
    /// Re-parse core dumps: every dump in ERROR, or the given ids.
    Reparse {
        /// Every dump whose parse ended in ERROR.
        #[arg(long, conflicts_with = "ids")]
        all_errors: bool,
        /// Core dump ids.
        #[arg(required_unless_present = "all_errors")]
        ids: Vec<i64>,
        /// Print one JSON object: {"count": N, "requeued": [ids]}.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: &Config, cmd: CoredumpCmd) -> anyhow::Result<()> {
    let db = open_db(config)?;
    match cmd {
        CoredumpCmd::Reparse {
            all_errors,
            ids,
            json,
        } => {
            // No workers in this process: the rows are the queue.
            let jobs = Jobs::disabled();
            let (done, missing) = if all_errors {
                (reparse::reparse_errors(&db, &jobs)?, Vec::new())
            } else {
                let ids: Vec<CoredumpId> = ids.into_iter().map(CoredumpId).collect();
                let reparse::Requeued { queued: done, kept } =
                    reparse::reparse_ids(&db, &super::layout(config), &jobs, &ids)?;
                for (_, why) in &kept {
                    eprintln!("{why}");
                }
                let missing: Vec<String> = ids
                    .iter()
                    .filter(|i| !done.contains(i) && !kept.iter().any(|(k, _)| k == *i))
                    .map(|i| i.to_string())
                    .collect();
                (done, missing)
            };
            if json {
                print_json(&serde_json::json!({"count": done.len(), "requeued": done}))?;
            } else {
                println!("queued {} coredump(s) for re-parse", done.len());
            }
            if !missing.is_empty() {
                anyhow::bail!("no coredump with id {}", missing.join(", "));
            }
        }
    }
    Ok(())
}
