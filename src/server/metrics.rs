//! `/metrics`: the server's counters in the Prometheus text format, read at scrape time.
//!
//! The request path keeps its sharded atomics (stats.rs); a prometheus-client [`Collector`]
//! sums them when scraped. prometheus-client's own metric types would put a second set of
//! counters (and a locking histogram) on every request.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::server::Phase;
use super::shared::Shared;
use super::stats::{CloseReason, Outcome, LATENCY_BOUNDS_US};

/// The registry that renders `/metrics`.
pub(crate) struct Metrics {
    registry: Registry,
}

impl Metrics {
    /// The Content-Type of what [`render`](Metrics::render) returns.
    pub const CONTENT_TYPE: &'static str =
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

    pub fn new(shared: Arc<Shared>) -> Metrics {
        let mut registry = Registry::default();
        let methods = shared.router.method_slots();
        registry.register_collector(Box::new(ServerCollector { shared, methods }));
        Metrics { registry }
    }

    /// The metrics now, in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

struct ServerCollector {
    shared: Arc<Shared>,
    /// (service, method) per method slot of the router.
    methods: Vec<(&'static str, &'static str)>,
}

impl fmt::Debug for ServerCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCollector").finish_non_exhaustive()
    }
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), fmt::Error> {
    let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for ServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let stats = self.shared.stats.snapshot();
        let e = &mut encoder;
        gauge(
            e,
            "tether_connections_open",
            "Connections open now.",
            stats.active,
        )?;
        gauge(
            e,
            "tether_connections_parked",
            "Idle connections parked without a thread now.",
            stats.parked,
        )?;
        counter(
            e,
            "tether_connection_parks",
            "Times a worker handed an idle connection to the parking loop.",
            stats.parks,
        )?;
        counter(
            e,
            "tether_connection_unparks",
            "Times a worker took a parked connection back to read a request.",
            stats.unparks,
        )?;
        gauge(
            e,
            "tether_spare_threads",
            "Worker threads kept spare, without a connection, now.",
            stats.spare_threads,
        )?;
        gauge(
            e,
            "tether_connections_busy",
            "Connections with a request in hand now.",
            stats.busy,
        )?;
        counter(
            e,
            "tether_connections_accepted",
            "Connections accepted.",
            stats.accepted,
        )?;
        counter(
            e,
            "tether_connections_rejected",
            "Accepted connections closed unserved (socket setup or thread spawn failed).",
            stats.rejected,
        )?;
        counter(
            e,
            "tether_accept_errors",
            "accept() failures (EMFILE, ENFILE, ...).",
            stats.accept_errors,
        )?;
        {
            let mut family = e.encode_descriptor(
                "tether_connections_closed",
                "Connections closed, by reason.",
                None,
                MetricType::Counter,
            )?;
            for reason in CloseReason::ALL {
                let labels = [("reason", reason.name())];
                ConstCounter::new(stats.closed(reason)).encode(family.encode_family(&labels)?)?;
            }
        }
        self.encode_requests(e)?;
        self.encode_latency(e)?;
        counter(
            e,
            "tether_exceptions",
            "TApplicationExceptions sent (unknown method, handler panic, bad arguments).",
            stats.exceptions,
        )?;
        counter(
            e,
            "tether_received_bytes",
            "Bytes read from peers.",
            stats.bytes_in,
        )?;
        counter(
            e,
            "tether_sent_bytes",
            "Bytes written to peers.",
            stats.bytes_out,
        )?;
        gauge(
            e,
            "tether_thread_capacity",
            "Worker threads this process can hold, derived at start from the kernel's limits.",
            stats.thread_capacity,
        )?;
        counter(
            e,
            "tether_spawn_failures",
            "Worker threads that could not be started (the connection waited, retried with backoff).",
            stats.spawn_failures,
        )?;
        let phase = self.shared.phase();
        gauge(
            e,
            "tether_ready",
            "1 while the server wants new connections, 0 from the moment a shutdown begins.",
            u64::from(phase == Phase::Serving),
        )?;
        let mut family = e.encode_descriptor(
            "tether_drain_phase",
            "1 for the phase the server is in: serving, announcing (a drain is announced, \
             still serving) or draining.",
            None,
            MetricType::Gauge,
        )?;
        for each in Phase::ALL {
            let labels = [("phase", each.name())];
            ConstGauge::new(i64::from(each == phase)).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

impl ServerCollector {
    /// `tether_requests_total{service,method,outcome}`; requests for methods no service has
    /// count under `outcome="unknown_method"` with empty service and method (peer-chosen
    /// names would make the label set unbounded).
    fn encode_requests(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "tether_requests",
            "Requests handled, by method and outcome (ok: a reply was sent, IDL exceptions \
             included).",
            None,
            MetricType::Counter,
        )?;
        let counts = self.shared.stats.method_counts();
        for (&(service, method), counts) in self.methods.iter().zip(&counts) {
            for outcome in Outcome::ALL {
                let labels = [
                    ("service", service),
                    ("method", method),
                    ("outcome", outcome.name()),
                ];
                ConstCounter::new(counts[outcome as usize])
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        let labels = [
            ("service", ""),
            ("method", ""),
            ("outcome", "unknown_method"),
        ];
        ConstCounter::new(self.shared.stats.unknown_methods())
            .encode(family.encode_family(&labels)?)
    }

    fn encode_latency(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let latency = self.shared.stats.latency();
        let mut buckets: Vec<(f64, u64)> = LATENCY_BOUNDS_US
            .iter()
            .zip(&latency.buckets)
            .map(|(&bound, &count)| (bound as f64 / 1e6, count))
            .collect();
        buckets.push((f64::INFINITY, latency.buckets[LATENCY_BOUNDS_US.len()]));
        let mut metric = encoder.encode_descriptor(
            "tether_request_duration_seconds",
            "Time from the read that completed a request to its reply being written.",
            None,
            MetricType::Histogram,
        )?;
        metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            latency.sum_us as f64 / 1e6,
            latency.count(),
            &buckets,
            None,
        )
    }
}
