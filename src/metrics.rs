//! Every metric crashbox exports, named once, in Prometheus text format (prometheus-client).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
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

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: HistogramFamily<RouteLabels>,
    pub uploads: Family<OutcomeLabels, Counter>,
    pub firmware_uploads: Family<OutcomeLabels, Counter>,
    pub firmware_downloads: Family<OutcomeLabels, Counter>,
    pub parses: Family<OutcomeLabels, Counter>,
    pub parse_duration: HistogramFamily<OutcomeLabels>,
    pub parse_attempts: Family<OutcomeLabels, Counter>,
    pub queue_depth: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
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
