//! The command line: one binary, one subcommand per task. Every command works against the same
//! `--data-dir` as `serve`, also while `serve` runs. Commands that create something accept
//! `--json` and then print exactly one JSON object.

mod backup;
mod coredump;
mod decode;
mod device;
mod firmware;
mod group;
mod healthcheck;
mod model;
mod notify;
mod restore;
mod rollout;
mod serve;
mod sidecar;
mod token;
mod user;

use clap::{Parser, Subcommand};

use crate::config::{ConfigArgs, ServeArgs};

/// The parsed command line: the shared configuration flags and one subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "crashbox",
    version,
    about = "Core dumps and firmware for a fleet of ESP32 devices"
)]
pub struct Cli {
    /// Settings shared by every command (data dir, limits, sidecar), from flags or env vars.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The task to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the appliance (HTTP API, dashboard, parse workers).
    Serve(Box<ServeArgs>),
    /// Manage device models.
    #[command(subcommand)]
    Model(model::ModelCmd),
    /// Manage devices and their tokens.
    #[command(subcommand)]
    Device(device::DeviceCmd),
    /// Manage API tokens (admin, pipeline).
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Upload and list firmware versions.
    #[command(subcommand)]
    Firmware(firmware::FirmwareCmd),
    /// Decode a core dump offline with the built-in decoder.
    Decode(decode::DecodeArgs),
    /// Serve the parse-sidecar protocol with the built-in decoder.
    Sidecar(sidecar::SidecarArgs),
    /// Core dumps: re-parse.
    #[command(subcommand)]
    Coredump(coredump::CoredumpCmd),
    /// Crash groups: list, show, resolve, mute, reopen, merge, rebuild.
    #[command(subcommand)]
    Group(group::GroupCmd),
    /// Notification channels: add, list, test, rm.
    #[command(subcommand)]
    Notify(notify::NotifyCmd),
    /// Rollouts: model target, canary, promote, resume.
    #[command(subcommand)]
    Rollout(rollout::RolloutCmd),
    /// Consistent online copy of the database plus a tar of the blob folders (`--verify`
    /// checks it).
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty data folder (verified first; never overwrites).
    Restore(restore::RestoreArgs),
    /// Ask a running server's /healthz: exit 0 when healthy, 1 otherwise.
    Healthcheck(healthcheck::HealthcheckArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    // Needs no data folder: it only asks a running server.
    if let Command::Healthcheck(args) = cli.command {
        return healthcheck::run(args);
    }
    let config = cli.config.resolve()?;
    match cli.command {
        Command::Healthcheck(_) => Ok(()),
        Command::Serve(args) => serve::run(config, *args),
        Command::Model(cmd) => model::run(&config, cmd),
        Command::Device(cmd) => device::run(&config, cmd),
        Command::Token(cmd) => token::run(&config, cmd),
        Command::User(cmd) => user::run(&config, cmd),
        Command::Backup(args) => backup::run(&config, args),
        Command::Restore(args) => restore::run(&config, args),
        Command::Firmware(cmd) => firmware::run(&config, cmd),
        Command::Decode(args) => decode::run(&config, args),
        Command::Sidecar(args) => sidecar::run(&config, args),
        Command::Coredump(cmd) => coredump::run(&config, cmd),
        Command::Group(cmd) => group::run(&config, cmd),
        Command::Notify(cmd) => notify::run(&config, cmd),
        Command::Rollout(cmd) => rollout::run(&config, cmd),
    }
}

/// Opens the database of the data dir (creating it and applying migrations if needed).
fn open_db(config: &crate::config::Config) -> anyhow::Result<crate::db::Db> {
    crate::store::private::create_dir(&config.data_dir)?;
    Ok(crate::db::Db::open_with(
        &config.db_path,
        config.db_busy_timeout,
    )?)
}

fn layout(config: &crate::config::Config) -> crate::store::Layout {
    crate::store::Layout::new(config.coredumps_dir.clone(), config.assets_dir.clone())
}

/// Prints one JSON object on a line.
fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

/// Prints `v` as one line of JSON with `--json`, else the text `human` makes of it.
fn output<T: serde::Serialize>(
    json: bool,
    v: &T,
    human: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        print_json(v)
    } else {
        println!("{}", human(v));
        Ok(())
    }
}
