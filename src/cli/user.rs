//! `crashbox user passwd NAME`: set a dashboard password, read from stdin.

use std::io::BufRead;

use clap::Subcommand;

use super::open_db;
use crate::config::Config;
use crate::fleet;

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Set (or create) a user's password; the password is read from the first line of stdin.
    Passwd { name: String },
}

pub fn run(config: &Config, cmd: UserCmd) -> anyhow::Result<()> {
    let db = open_db(config)?;
    match cmd {
        UserCmd::Passwd { name } => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let password = line.trim_end_matches(['\r', '\n']);
            fleet::users::set_password(
                &db,
                &config.data_dir,
                &name,
                password,
                &crate::audit::Actor::Cli,
            )?;
            println!("password set for {name}");
        }
    }
    Ok(())
}
