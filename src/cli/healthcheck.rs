//! `crashbox healthcheck`: asks a running server's `/healthz` and exits 0 when it answers
//! `200`, 1 otherwise (for container health checks and scripts). The address is `--url`, else
//! the one `serve` listens on (`CRASHBOX_BIND`; a wildcard address is asked on loopback).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use clap::Args;

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The server's listen address, as given to `serve`.
    #[arg(long, env = "CRASHBOX_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// The health URL to ask (default: http://<bind>/healthz).
    #[arg(long)]
    pub url: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value = "5")]
    pub timeout: u64,
}

/// The URL `healthcheck` asks for a listen address: a wildcard address becomes loopback.
pub fn health_url(bind: SocketAddr) -> String {
    let ip = match bind.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/healthz", SocketAddr::new(ip, bind.port()))
}

pub fn run(args: HealthcheckArgs) -> anyhow::Result<()> {
    let url = match args.url {
        Some(u) => u,
        None => health_url(args.bind.trim().parse().map_err(|e| {
            anyhow::anyhow!("invalid value {:?} for CRASHBOX_BIND: {e}", args.bind)
        })?),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(args.timeout.clamp(1, 300))))
        .build()
        .into();
    let resp = agent
        .get(&url)
        .call()
        .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    anyhow::ensure!(status == 200, "{url} answered {status}");
    println!("{url}: ok");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_are_asked_on_loopback() {
        assert_eq!(
            health_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080/healthz"
        );
        assert_eq!(
            health_url("[::]:80".parse().unwrap()),
            "http://[::1]:80/healthz"
        );
        assert_eq!(
            health_url("10.1.2.3:9".parse().unwrap()),
            "http://10.1.2.3:9/healthz"
        );
    }
}
