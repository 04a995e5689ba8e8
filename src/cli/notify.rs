//! `crashbox notify add|list|test|rm`: notification channels from the command line (the same
//! operations as `/api/notifications`). A running server sends queued test events within its
//! sweep interval.

use std::io::BufRead;

use clap::{Args, Subcommand};

use super::{open_db, print_json};
use crate::config::Config;
use crate::notify::Wake;
use crate::notify::service::{self, ChannelInput};

/// The `notify` subcommands.
#[derive(Debug, Subcommand)]
pub enum NotifyCmd {
    /// Add a channel: webhook, slack, ntfy or email. A webhook's secret is printed once.
    Add(Box<AddArgs>),
    /// List the channels (never their secrets).
    List {
        /// Print {"channels": [...]}.
        #[arg(long)]
        json: bool,
    },
    /// Queue a test event to channel ID.
    Test {
        /// The channel id.
        id: i64,
    },
    /// Delete channel ID and its deliveries.
    Rm {
        /// The channel id.
        id: i64,
    },
}

/// Arguments of `notify add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// webhook, slack, ntfy or email.
    pub kind: String,
    /// The endpoint (HTTP channels).
    #[arg(long)]
    pub url: Option<String>,
    /// A label.
    #[arg(long)]
    pub name: Option<String>,
    /// Event types (repeat; default group.created and group.regressed).
    #[arg(long = "event")]
    pub events: Vec<String>,
    /// Model codes (repeat; default all).
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// Cooldown per group in seconds (default 3600).
    #[arg(long)]
    pub cooldown: Option<i64>,
    /// group.spike: dumps of one group within --spike-window.
    #[arg(long)]
    pub spike_dumps: Option<i64>,
    /// group.spike: distinct devices of one group within --spike-window.
    #[arg(long)]
    pub spike_devices: Option<i64>,
    /// group.spike window in seconds (default 3600).
    #[arg(long)]
    pub spike_window: Option<i64>,
    /// Read the ntfy token or the SMTP password from the first line of stdin.
    #[arg(long, conflicts_with = "secret_file")]
    pub secret_stdin: bool,
    /// Read the ntfy token or the SMTP password from the first line of this file (e.g. a
    /// systemd credential or a Docker secret).
    #[arg(long, env = "CRASHBOX_NOTIFY_SECRET_FILE")]
    pub secret_file: Option<std::path::PathBuf>,
    /// SMTP server.
    #[arg(long)]
    pub smtp_host: Option<String>,
    /// SMTP port.
    #[arg(long)]
    pub smtp_port: Option<i64>,
    /// starttls (default), tls or plain.
    #[arg(long)]
    pub smtp_tls: Option<String>,
    /// SMTP user name.
    #[arg(long)]
    pub smtp_username: Option<String>,
    /// Sender address.
    #[arg(long)]
    pub from: Option<String>,
    /// Recipients, comma separated.
    #[arg(long)]
    pub to: Option<String>,
}

/// Runs one `notify` subcommand.
pub fn run(config: &Config, cmd: NotifyCmd) -> anyhow::Result<()> {
    let db = open_db(config)?;
    match cmd {
        NotifyCmd::Add(a) => {
            let secret = if let Some(file) = &a.secret_file {
                Some(crate::config::secret_from_file(
                    "CRASHBOX_NOTIFY_SECRET_FILE",
                    file,
                )?)
            } else if a.secret_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                Some(line.trim().to_string()).filter(|s| !s.is_empty())
            } else {
                None
            };
            let is_email = a.kind == "email";
            let input = ChannelInput {
                kind: Some(a.kind),
                name: a.name,
                url: a.url,
                events: (!a.events.is_empty()).then_some(a.events),
                models: (!a.models.is_empty()).then_some(a.models),
                cooldown_s: a.cooldown,
                spike_dumps: a.spike_dumps,
                spike_devices: a.spike_devices,
                spike_window_s: a.spike_window,
                token: if is_email { None } else { secret.clone() },
                smtp_password: if is_email { secret } else { None },
                smtp_host: a.smtp_host,
                smtp_port: a.smtp_port,
                smtp_tls: a.smtp_tls,
                smtp_username: a.smtp_username,
                email_from: a.from,
                email_to: a.to,
            };
            let c = service::create(&db, &input, &crate::audit::Actor::Cli)?;
            println!(
                "created {} channel {}",
                c.channel.settings.kind, c.channel.id
            );
            if let Some(s) = c.secret {
                println!("secret (shown once, verify webhook-signature with it): {s}");
            }
        }
        NotifyCmd::List { json } => {
            let rows = service::list(&db)?;
            if json {
                print_json(&serde_json::json!({"channels": rows}))?;
            } else {
                println!(
                    "{:<5} {:<8} {:<16} {:<8} {:<40} EVENTS",
                    "ID", "KIND", "NAME", "LAST", "TARGET"
                );
                for c in &rows {
                    let target = if c.settings.kind == "email" {
                        c.settings.email_to.clone().unwrap_or_default()
                    } else {
                        c.settings.url.clone()
                    };
                    println!(
                        "{:<5} {:<8} {:<16} {:<8} {:<40} {}",
                        c.id,
                        c.settings.kind,
                        c.settings.name,
                        c.last_status.as_deref().unwrap_or("-"),
                        target,
                        c.settings.events.join(",")
                    );
                }
            }
        }
        NotifyCmd::Test { id } => {
            let event = service::test(&db, &Wake::default(), id, &crate::audit::Actor::Cli)?;
            println!("queued test event {event} for channel {id}");
        }
        NotifyCmd::Rm { id } => {
            service::delete(&db, id, &crate::audit::Actor::Cli)?;
            println!("deleted channel {id}");
        }
    }
    Ok(())
}
