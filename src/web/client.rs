//! Who the client is on the network: the peer address of the socket, or, when the peer is a
//! configured trusted proxy (`CRASHBOX_TRUSTED_PROXIES`), the address that proxy recorded in
//! `X-Forwarded-For`. Anyone else's `X-Forwarded-For` is ignored, so a client cannot pick the
//! address its sign-in failures are counted under.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::state::AppState;
use crate::config::{AddrList, canonical};

/// Most `X-Forwarded-For` entries looked at (from the right).
const MAX_HOPS: usize = 16;

/// The client's address as far as crashbox can trust it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// The client of a request from `peer` carrying `forwarded_for` (the `X-Forwarded-For` values
/// joined by commas): walking the list from the right, the first address that is not a trusted
/// proxy. An entry that does not parse ends the walk at the hop before it.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &AddrList) -> IpAddr {
    let mut client = canonical(peer);
    if !trusted.contains(client) {
        return client;
    }
    let Some(list) = forwarded_for else {
        return client;
    };
    for hop in list.rsplit(',').take(MAX_HOPS) {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = canonical(ip);
                if !trusted.contains(client) {
                    return client;
                }
            }
            Err(_) => return client,
        }
    }
    client
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let joined = (!forwarded.is_empty()).then(|| forwarded.join(","));
        Ok(ClientAddr(client_ip(
            peer,
            joined.as_deref(),
            &st.config.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = AddrList::parse("T", "10.0.0.1, 192.168.0.0/16").unwrap();
        let none = AddrList::default();
        assert_eq!(
            client_ip(ip("10.9.9.9"), Some("1.2.3.4"), &trusted),
            ip("10.9.9.9")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("1.2.3.4"), &none),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("1.2.3.4"), &trusted),
            ip("1.2.3.4")
        );
        // A client-supplied entry left of the proxy's is not believed.
        assert_eq!(
            client_ip(
                ip("10.0.0.1"),
                Some("6.6.6.6, 1.2.3.4, 192.168.1.1"),
                &trusted
            ),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("junk"), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), Some("1.2.3.4"), &trusted),
            ip("1.2.3.4")
        );
        assert!(AddrList::parse("T", "10.0.0.0/33").is_err());
        assert!(AddrList::parse("T", "nope").is_err());
    }
}
