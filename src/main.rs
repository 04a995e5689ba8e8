use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = crashbox::cli::Cli::parse();
    if let Err(e) = init_tracing() {
        eprintln!("crashbox: {e:#}");
        return ExitCode::from(2);
    }
    match crashbox::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crashbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `CRASHBOX_LOG` is a tracing filter (default `info`). tracing-subscriber
/// escapes control characters in logged values, so device text cannot drive the terminal.
fn init_tracing() -> anyhow::Result<()> {
    let filter = match std::env::var("CRASHBOX_LOG") {
        Ok(v) if !v.trim().is_empty() => tracing_subscriber::EnvFilter::try_new(&v)
            .map_err(|e| anyhow::anyhow!("invalid value {v:?} for CRASHBOX_LOG: {e}"))?,
        _ => tracing_subscriber::EnvFilter::new("info"),
    };
    // Colours only for a person at a terminal: journald, files and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
    Ok(())
}
