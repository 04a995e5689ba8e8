//! `crashbox rollout show|target|canary|promote|resume MODEL`: a model's rollout from the
//! command line (changes are recorded in the audit log as `cli`).

use clap::Subcommand;

use super::{open_db, output};
use crate::audit::Actor;
use crate::config::Config;
use crate::rollout::service::{self, CanaryInput, Rollout, RolloutInput};

#[derive(Debug, Subcommand)]
pub enum RolloutCmd {
    /// Show the model target and the canary.
    Show {
        model: String,
        #[arg(long)]
        json: bool,
    },
    /// Make a stored version the model target.
    Target {
        model: String,
        version: String,
        #[arg(long)]
        json: bool,
    },
    /// Set the canary: a stored version for devices given by key and/or tag (no version: end
    /// the canary).
    Canary {
        model: String,
        /// The canary version.
        version: Option<String>,
        /// A canary device key (repeat for more).
        #[arg(long = "device")]
        devices: Vec<String>,
        /// Devices with this tag are canary devices too.
        #[arg(long)]
        tag: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Make the canary version the model target.
    Promote {
        model: String,
        #[arg(long)]
        json: bool,
    },
    /// Resume a halted canary.
    Resume {
        model: String,
        #[arg(long)]
        json: bool,
    },
}

fn text(r: &Rollout) -> String {
    let c = &r.canary;
    let mut s = format!(
        "model {}: target {}",
        r.model,
        r.target.as_deref().unwrap_or("none")
    );
    match &c.version {
        None => s.push_str(", no canary"),
        Some(v) => {
            s.push_str(&format!(
                "\ncanary {v} for {} device(s){}",
                c.devices.len(),
                c.tag
                    .as_deref()
                    .map(|t| format!(" and devices tagged {t}"))
                    .unwrap_or_default()
            ));
            if c.halted {
                s.push_str(&format!(
                    "\nHALTED by crash group {} at {}",
                    c.halted_by_group
                        .map(|g| g.to_string())
                        .unwrap_or_else(|| "?".into()),
                    c.halted_at.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    s
}

pub fn run(config: &Config, cmd: RolloutCmd) -> anyhow::Result<()> {
    let db = open_db(config)?;
    let (r, json) = match cmd {
        RolloutCmd::Show { model, json } => (service::get(&db, &model)?, json),
        RolloutCmd::Target {
            model,
            version,
            json,
        } => {
            let input = RolloutInput {
                target: Some(version),
                canary: None,
            };
            (service::set(&db, &model, &input, &Actor::Cli)?, json)
        }
        RolloutCmd::Canary {
            model,
            version,
            devices,
            tag,
            json,
        } => {
            let input = RolloutInput {
                target: None,
                canary: Some(CanaryInput {
                    version,
                    devices,
                    tag,
                }),
            };
            (service::set(&db, &model, &input, &Actor::Cli)?, json)
        }
        RolloutCmd::Promote { model, json } => (service::promote(&db, &model, &Actor::Cli)?, json),
        RolloutCmd::Resume { model, json } => (service::resume(&db, &model, &Actor::Cli)?, json),
    };
    output(json, &r, text)
}
