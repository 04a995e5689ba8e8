//! The HTTP server loop: accepts TCP connections and serves each one with hyper's HTTP/1.1,
//! with the limits of [`HttpLimits`] (defaults and flags in docs/deploy.md). It owns the
//! connection level; the request level (body idle timeout, request deadline) is a layer of
//! `web::router`, because it needs the request.
//!
//! - A head that never finishes: hyper's header read timeout closes the connection (it also
//!   bounds how long an idle keep-alive connection stays open), and the read buffer, so the
//!   memory one unfinished head can pin, is capped at `max_header_bytes` (a longer head is 431).
//! - Too many connections: at `max_connections` a new connection is answered `503` with
//!   `Retry-After` and closed ([`refuse`]), so `accept` never runs out of descriptors; `serve`
//!   raises the soft `RLIMIT_NOFILE` to the hard limit at start ([`raise_nofile_limit`]) and
//!   lowers the cap when the descriptors cannot cover it.
//! - A client that stops reading an answer: a write that makes no progress for `send_timeout`
//!   ends the connection ([`stall`]).
//! - Shutdown: on the signal the listener closes, idle connections close, busy ones finish the
//!   request they are serving; after `shutdown_timeout` whatever is left is cut.
//!
//! Every request carries the peer's socket address as `ConnectInfo<SocketAddr>`.

mod refuse;
mod stall;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::HttpLimits;
use stall::StallGuard;

/// Descriptors kept free for everything that is not a connection: the database and its WAL,
/// dump and firmware files being written or streamed, the parse workers, refusals.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// At most one log line per this interval about refused connections (with their count).
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// How long the accept loop pauses after `accept` itself failed (out of descriptors despite
/// the cap, say) so that it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit now in force
/// (`None` where it cannot be read).
pub fn raise_nofile_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// The connection cap that the open-file limit `nofile` can carry: `configured`, lowered so
/// that [`RESERVED_DESCRIPTORS`] stay free (at least 1).
pub fn connection_cap(configured: usize, nofile: Option<u64>) -> usize {
    match nofile {
        Some(n) => {
            let room =
                usize::try_from(n.saturating_sub(RESERVED_DESCRIPTORS)).unwrap_or(usize::MAX);
            configured.min(room).max(1)
        }
        None => configured,
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains as described in the
/// module doc. Returns once every connection is closed or cut.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(crate::config::MIN_HEADER_BYTES));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = refuse::Refusals::default();
    let stop = CancellationToken::new();
    let mut conns = JoinSet::new();
    let (mut refused, mut last_report) = (0u64, None::<std::time::Instant>);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => r,
        };
        while conns.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refused += 1;
            // One line per interval, not per connection: a flood must not flood the log.
            if last_report.is_none_or(|t| t.elapsed() >= REFUSAL_LOG_INTERVAL) {
                tracing::warn!(%peer, cap = limits.max_connections, refused, "connection cap reached: refusing connections with 503");
                refused = 0;
                last_report = Some(std::time::Instant::now());
            }
            refusals.refuse(stream);
            continue;
        };
        let (http, router, stop) = (http.clone(), router.clone(), stop.clone());
        let send_timeout = limits.send_timeout;
        conns.spawn(async move {
            connection(http, stream, send_timeout, peer, router, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    stop.cancel();
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = conns.len(),
            "shutdown deadline passed: cutting the remaining connections"
        );
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    Ok(())
}

/// Serves one connection until it closes, or until `stop`, after which it finishes the request
/// in flight (if any) and closes.
async fn connection(
    http: hyper::server::conn::http1::Builder,
    stream: TcpStream,
    send_timeout: Duration,
    peer: SocketAddr,
    router: Router,
    stop: CancellationToken,
) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req)
    });
    let conn = http.serve_connection(TokioIo::new(StallGuard::new(stream, send_timeout)), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_leaves_room_for_other_descriptors() {
        assert_eq!(connection_cap(512, Some(1024)), 512);
        assert_eq!(connection_cap(2048, Some(1024)), 1024 - 256);
        assert_eq!(connection_cap(512, Some(10)), 1);
        assert_eq!(connection_cap(512, None), 512);
    }
}
