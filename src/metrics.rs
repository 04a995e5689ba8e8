//! Every metric crashbox exports, named once, in Prometheus text format (prometheus-client).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of `crashbox_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The HTTP method, e.g. `GET`.
    pub method: String,
    /// The matched route pattern (`unmatched` for paths no route matched).
    pub route: String,
    /// The response status code.
    pub status: u16,
}

/// Labels of the request latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The matched route pattern (`unmatched` for paths no route matched).
    pub route: String,
}

/// Labels of the per-outcome counters and the parse duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// The outcome, e.g. `stored`, `rejected`, `error`, `parsed`.
    pub outcome: String,
}

/// Labels of `crashbox_notify_deliveries_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotifyLabels {
    /// The channel kind: `webhook`, `slack`, `ntfy` or `email`.
    pub kind: String,
    /// `sent`, `retry` (failed, will be retried) or `failed` (gave up).
    pub outcome: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.1 ms … ~3.3 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

fn parse_histogram() -> Histogram {
    // 1 ms … ~130 s (sidecar parses take seconds)
    Histogram::new(exponential_buckets(0.001, 2.0, 18))
}

/// Every metric crashbox exports, in one registry (names prefixed `crashbox_`).
pub struct Metrics {
    registry: Registry,
    /// `crashbox_http_requests_total`: requests by method, route and status.
    pub http_requests: Family<HttpLabels, Counter>,
    /// `crashbox_http_request_duration_seconds`: request latency by route.
    pub http_duration: HistogramFamily<RouteLabels>,
    /// `crashbox_coredump_uploads_total`: device core dump uploads by outcome (`stored`,
    /// `rejected`, `error`).
    pub uploads: Family<OutcomeLabels, Counter>,
    /// `crashbox_firmware_uploads_total`: CI firmware uploads by outcome (`stored`, `rejected`,
    /// `error`).
    pub firmware_uploads: Family<OutcomeLabels, Counter>,
    /// `crashbox_firmware_downloads_total`: device firmware downloads by outcome (`full`,
    /// `partial`, `not_modified`, …).
    pub firmware_downloads: Family<OutcomeLabels, Counter>,
    /// `crashbox_coredump_parses_total`: finished parse jobs by outcome (`parsed`, `error`,
    /// `dropped`).
    pub parses: Family<OutcomeLabels, Counter>,
    /// `crashbox_coredump_parse_duration_seconds`: parse job duration by outcome.
    pub parse_duration: HistogramFamily<OutcomeLabels>,
    /// `crashbox_coredump_parse_attempts_total`: sidecar requests by outcome (`ok`, `failed`).
    pub parse_attempts: Family<OutcomeLabels, Counter>,
    /// `crashbox_parse_queue_depth`: parse jobs waiting for a worker (set when `/metrics` is read).
    pub queue_depth: Gauge,
    /// `crashbox_db_writes`: write transactions whose work was kept since start (set when
    /// `/metrics` is read).
    pub db_writes: Gauge,
    /// `crashbox_db_commits`: commits since start; writes per commit is the mean group-commit
    /// batch (set when `/metrics` is read).
    pub db_commits: Gauge,
    /// `crashbox_db_relaxed_commits`: of those, commits without a WAL fsync (batches of derived
    /// state only: parse claims and results; set when `/metrics` is read).
    pub db_relaxed_commits: Gauge,
    /// `crashbox_notify_deliveries_total`: notification delivery attempts by channel kind and
    /// outcome.
    pub notify_deliveries: Family<NotifyLabels, Counter>,
    /// `crashbox_device_checkin_writes_total`: device check-ins written to the database (the
    /// throttle lets at most one a minute per device through unless its version changed).
    pub checkin_writes: Counter,
    /// `crashbox_device_checkin_commits_total`: transactions that wrote check-ins (one per
    /// flush).
    pub checkin_commits: Counter,
    /// `crashbox_http_requests_in_flight`: requests whose head was read and whose answer is not
    /// yet given (the reading of `/metrics` itself included).
    pub http_in_flight: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty set of metrics with every family registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("crashbox");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        let uploads = Family::<OutcomeLabels, Counter>::default();
        let firmware_uploads = Family::<OutcomeLabels, Counter>::default();
        let firmware_downloads = Family::<OutcomeLabels, Counter>::default();
        let parses = Family::<OutcomeLabels, Counter>::default();
        let parse_duration: HistogramFamily<OutcomeLabels> =
            Family::new_with_constructor(parse_histogram);
        let parse_attempts = Family::<OutcomeLabels, Counter>::default();
        let queue_depth = Gauge::default();
        let db_writes = Gauge::default();
        let db_commits = Gauge::default();
        let db_relaxed_commits = Gauge::default();
        registry.register(
            "db_writes",
            "Database write transactions kept since start",
            db_writes.clone(),
        );
        registry.register(
            "db_commits",
            "Database commits since start (group commit: one per batch of writes)",
            db_commits.clone(),
        );
        registry.register(
            "db_relaxed_commits",
            "Database commits without a WAL fsync (only derived state: parse claims and results)",
            db_relaxed_commits.clone(),
        );
        let notify_deliveries = Family::<NotifyLabels, Counter>::default();
        let checkin_writes = Counter::default();
        let checkin_commits = Counter::default();
        registry.register(
            "device_checkin_writes",
            "Device check-ins written to the database",
            checkin_writes.clone(),
        );
        registry.register(
            "device_checkin_commits",
            "Transactions that wrote device check-ins",
            checkin_commits.clone(),
        );
        let http_in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being served",
            http_in_flight.clone(),
        );
        registry.register(
            "notify_deliveries",
            "Notification delivery attempts by channel kind and outcome",
            notify_deliveries.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            http_duration.clone(),
        );
        registry.register(
            "coredump_uploads",
            "Core dump uploads by outcome",
            uploads.clone(),
        );
        registry.register(
            "firmware_uploads",
            "Firmware uploads by outcome",
            firmware_uploads.clone(),
        );
        registry.register(
            "firmware_downloads",
            "Device firmware downloads by outcome",
            firmware_downloads.clone(),
        );
        registry.register(
            "coredump_parses",
            "Finished parse jobs by outcome",
            parses.clone(),
        );
        registry.register(
            "coredump_parse_duration_seconds",
            "Parse job duration by outcome",
            parse_duration.clone(),
        );
        registry.register(
            "coredump_parse_attempts",
            "Sidecar attempts by outcome",
            parse_attempts.clone(),
        );
        registry.register(
            "parse_queue_depth",
            "Parse jobs waiting for a worker",
            queue_depth.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            uploads,
            firmware_uploads,
            firmware_downloads,
            parses,
            parse_duration,
            parse_attempts,
            queue_depth,
            db_writes,
            db_commits,
            db_relaxed_commits,
            notify_deliveries,
            checkin_writes,
            checkin_commits,
            http_in_flight,
        }
    }

    /// The label set of one outcome.
    pub fn outcome(outcome: &str) -> OutcomeLabels {
        OutcomeLabels {
            outcome: outcome.to_string(),
        }
    }

    /// Adds one to `family` under `outcome`.
    pub fn count(family: &Family<OutcomeLabels, Counter>, outcome: &str) {
        family.get_or_create(&Metrics::outcome(outcome)).inc();
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}
