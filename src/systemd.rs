//! systemd's `Type=notify` protocol for `crashbox serve` (contrib/crashbox.service): readiness
//! once the listener is bound, `STOPPING=1` at the shutdown signal, and the watchdog, pinged
//! at half of `WatchdogSec` while the database answers — a server whose database is wedged
//! stops pinging and systemd restarts it. Every call is a no-op when systemd did not start the
//! process (`$NOTIFY_SOCKET` unset). Uses the `sd-notify` crate.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, state) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Tells systemd the server accepts connections.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd the server is stopping.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// How often to ping the watchdog (half its timeout), when systemd enabled one for us.
pub fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0u64;
    (sd_notify::watchdog_enabled(false, &mut usec) && usec > 0)
        .then(|| Duration::from_micros(usec / 2).max(Duration::from_millis(100)))
}

/// One watchdog ping.
pub fn watchdog_ping() {
    send(&[NotifyState::Watchdog]);
}
