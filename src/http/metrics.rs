//! Prometheus text metrics: request counts and latency histograms by method,
//! route pattern and status, kept by the `prometheus` crate, plus gauges the
//! caller samples at scrape time.

use std::{
    collections::{HashMap, hash_map::Entry},
    time::Duration,
};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
    proto::MetricFamily,
};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The methods that keep their own `method` label; any other is `OTHER`, so
/// a client inventing methods cannot create series without end.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

const LABELS: [&str; 3] = ["method", "route", "status"];

/// A gauge sampled at scrape time: name, help text, labels, value.
pub struct Gauge<'a> {
    pub name: &'a str,
    pub help: &'a str,
    pub labels: &'a [(&'a str, &'a str)],
    pub value: i64,
}

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    scans: IntCounterVec,
    registrations: IntCounterVec,
    scan_rows: HistogramVec,
    registration_rows: HistogramVec,
    waitlist_rows: HistogramVec,
}

/// The work whose requests are counted by the way they were answered.
#[derive(Debug, Clone, Copy)]
pub enum Answered {
    /// A scan at the door: `one_statement` (PostgreSQL) or `general`.
    Scan,
    /// A registration that reached its writing: `seat_statement`,
    /// `waitlist_statement` (PostgreSQL) or `general`.
    Registration,
}

/// The statements that carry the rows of requests that arrive together.
#[derive(Debug, Clone, Copy)]
pub enum Batched {
    /// Scans at the door.
    Scans,
    /// First places at events with seats left.
    Registrations,
    /// Places on full events' waitlists.
    Waitlists,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "Requests served, by method, route and status.",
            ),
            &LABELS,
        )
        .expect("a valid counter");
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to serve a request, by method, route and status.",
            )
            .buckets(BUCKETS.to_vec()),
            &LABELS,
        )
        .expect("a valid histogram");
        let scans = IntCounterVec::new(
            Opts::new(
                "checkin_scans_total",
                "Scans answered, by the way taken: one_statement (PostgreSQL) or general.",
            ),
            &["way"],
        )
        .expect("a valid counter");
        let registrations = IntCounterVec::new(
            Opts::new(
                "registrations_total",
                "Registrations that reached their writing, by the way taken: seat_statement or \
                 waitlist_statement (PostgreSQL), or general.",
            ),
            &["way"],
        )
        .expect("a valid counter");
        let scan_rows = rows_per_statement(
            "checkin_scan_statement_rows",
            "Scans answered together by one statement (PostgreSQL).",
        );
        let registration_rows = rows_per_statement(
            "registration_statement_rows",
            "First places at events written together by one statement (PostgreSQL).",
        );
        let waitlist_rows = rows_per_statement(
            "waitlist_statement_rows",
            "Places on full events' waitlists taken together by one transaction (PostgreSQL).",
        );
        let registry = Registry::new();
        for histogram in [&scan_rows, &registration_rows, &waitlist_rows] {
            registry
                .register(Box::new(histogram.clone()))
                .expect("registered once");
        }
        for collector in [&requests, &scans, &registrations] {
            registry
                .register(Box::new(collector.clone()))
                .expect("registered once");
        }
        registry
            .register(Box::new(durations.clone()))
            .expect("registered once");
        Self {
            registry,
            requests,
            durations,
            scans,
            registrations,
            scan_rows,
            registration_rows,
            waitlist_rows,
        }
    }
}

/// A histogram of the rows each batched statement carried. No labels; a
/// vector, so it is shown from the first statement on.
fn rows_per_statement(name: &str, help: &str) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0]),
        &[],
    )
    .expect("a valid histogram")
}

/// The `method` label for a request method: itself if it is a standard one
/// the API could answer, else `OTHER`.
pub fn method_label(method: &str) -> &str {
    METHODS
        .into_iter()
        .find(|m| *m == method)
        .unwrap_or("OTHER")
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [method_label(method), route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.durations
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a statement of `kind` that carried `rows` requests together.
    pub fn batched(&self, kind: Batched, rows: usize) {
        let histogram = match kind {
            Batched::Scans => &self.scan_rows,
            Batched::Registrations => &self.registration_rows,
            Batched::Waitlists => &self.waitlist_rows,
        };
        histogram
            .with_label_values::<&str>(&[])
            .observe(rows as f64);
    }

    /// Counts a request of `work` answered the `way` named (see
    /// [`Answered`]).
    pub fn answered(&self, work: Answered, way: &str) {
        let counter = match work {
            Answered::Scan => &self.scans,
            Answered::Registration => &self.registrations,
        };
        counter.with_label_values(&[way]).inc();
    }

    /// Renders every series, followed by the given gauges.
    pub fn render(&self, gauges: &[Gauge<'_>]) -> String {
        let mut families = self.registry.gather();
        families.extend(gauge_families(gauges));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "metrics could not be rendered");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The gauges as metric families, sorted by name and then by labels. A
/// gauge whose name is not a valid metric name, or whose label names differ
/// from those of the first gauge of its name, is left out and logged.
fn gauge_families(gauges: &[Gauge<'_>]) -> Vec<MetricFamily> {
    let registry = Registry::new();
    let mut by_name: HashMap<&str, IntGaugeVec> = HashMap::new();
    for gauge in gauges {
        let vec = match by_name.entry(gauge.name) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let names: Vec<&str> = gauge.labels.iter().map(|(k, _)| *k).collect();
                let vec = IntGaugeVec::new(Opts::new(gauge.name, gauge.help), &names)
                    .and_then(|vec| registry.register(Box::new(vec.clone())).map(|()| vec));
                match vec {
                    Ok(vec) => entry.insert(vec),
                    Err(e) => {
                        tracing::warn!(gauge = gauge.name, error = %e, "gauge left out");
                        continue;
                    }
                }
            }
        };
        let labels: HashMap<&str, &str> = gauge.labels.iter().copied().collect();
        match vec.get_metric_with(&labels) {
            Ok(metric) => metric.set(gauge.value),
            Err(e) => tracing::warn!(gauge = gauge.name, error = %e, "gauge left out"),
        }
    }
    registry.gather()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_by_route_and_status() {
        let metrics = Metrics::default();
        metrics.record("GET", "/healthz", 200, Duration::from_millis(3));
        metrics.record("GET", "/healthz", 200, Duration::from_millis(30));
        let text = metrics.render(&[Gauge {
            name: "outbox_depth",
            help: "Mails by status.",
            labels: &[("status", "pending")],
            value: 4,
        }]);
        assert!(
            text.contains(
                "http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("le=\"0.05\"} 2"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2"), "{text}");
        assert!(
            text.contains("# TYPE http_request_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains(
                "http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("# HELP outbox_depth Mails by status.\n# TYPE outbox_depth gauge\n"),
            "{text}"
        );
        assert!(
            text.contains("outbox_depth{status=\"pending\"} 4"),
            "{text}"
        );
    }

    #[test]
    fn unknown_methods_share_one_series() {
        for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            assert_eq!(method_label(method), method);
        }
        for method in ["R1", "R2", "get", "TRACE", "CONNECT", "PROPFIND", ""] {
            assert_eq!(method_label(method), "OTHER", "{method:?}");
        }
        let metrics = Metrics::default();
        for method in ["R1", "R2", "R3"] {
            metrics.record(method, "unmatched", 404, Duration::from_millis(1));
        }
        let text = metrics.render(&[]);
        assert!(
            text.contains(
                "http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"404\"} 3"
            ),
            "{text}"
        );
        assert!(!text.contains("R1"), "{text}");
    }

    #[test]
    fn gauges_grouped_by_name_and_labels_escaped() {
        let metrics = Metrics::default();
        let text = metrics.render(&[
            Gauge {
                name: "b_gauge",
                help: "B.",
                labels: &[("status", "x\"y\\z\nw")],
                value: 1,
            },
            Gauge {
                name: "b_gauge",
                help: "B.",
                labels: &[("status", "sent")],
                value: -2,
            },
            Gauge {
                name: "a_gauge",
                help: "A, no labels.",
                labels: &[],
                value: 7,
            },
            Gauge {
                name: "b_gauge",
                help: "B.",
                labels: &[("other", "label")],
                value: 9,
            },
            Gauge {
                name: "not a name",
                help: "Bad.",
                labels: &[],
                value: 1,
            },
        ]);
        assert_eq!(
            text,
            "# HELP a_gauge A, no labels.\n# TYPE a_gauge gauge\n\
             a_gauge 7\n\
             # HELP b_gauge B.\n# TYPE b_gauge gauge\n\
             b_gauge{status=\"sent\"} -2\n\
             b_gauge{status=\"x\\\"y\\\\z\\nw\"} 1\n"
        );
    }
}
