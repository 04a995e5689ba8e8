//! The answer to a connection over the cap: `503` with `Retry-After`, written straight to the
//! socket (no request parsing), then the connection is closed.
//!
//! Closing a socket whose request was not read makes the kernel reset it, and a reset can
//! reach the client before the answer does. So, for a bounded number of refusals at a time, the
//! refusal reads (and drops) what the client sent for up to [`LINGER`] before closing; past that
//! bound the answer is written without waiting and the socket closed at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Refusals that may linger at the same time (each holds a descriptor).
const MAX_LINGERING: usize = 64;
/// How long a lingering refusal reads the client's request before closing.
const LINGER: Duration = Duration::from_secs(1);
/// Most bytes a lingering refusal reads.
const MAX_DRAIN: usize = 64 << 10;

/// The fixed answer: what a client sees when the server is full.
pub const BODY: &str = r#"{"error":"The server has too many open connections; retry later","code":"SERVICE_UNAVAILABLE"}"#;

fn answer() -> String {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    )
}

/// Answers refused connections, a bounded number of them with a linger.
#[derive(Clone)]
pub struct Refusals {
    lingering: Arc<Semaphore>,
}

impl Default for Refusals {
    fn default() -> Self {
        Refusals {
            lingering: Arc::new(Semaphore::new(MAX_LINGERING)),
        }
    }
}

impl Refusals {
    /// Answers `stream` with the 503 and closes it.
    pub fn refuse(&self, stream: TcpStream) {
        let Ok(permit) = self.lingering.clone().try_acquire_owned() else {
            // Too many lingering already: whatever fits in the socket buffer, then close.
            let _ = stream.try_write(answer().as_bytes());
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let mut stream = stream;
            let _ = tokio::time::timeout(LINGER, async {
                stream.write_all(answer().as_bytes()).await?;
                stream.shutdown().await?;
                let mut buf = [0u8; 4096];
                let mut read = 0;
                while read < MAX_DRAIN {
                    match stream.read(&mut buf).await? {
                        0 => break,
                        n => read += n,
                    }
                }
                Ok::<_, std::io::Error>(())
            })
            .await;
        });
    }
}
