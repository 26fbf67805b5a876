//! What `/metrics` reports, in Prometheus' text exposition format (0.0.4):
//! requests by route pattern, method and status, their latency as a
//! histogram, and the connection pools.
//!
//! Routes are labelled by their pattern (`/v1/invoices/{invoice_id}`), never
//! the raw path, and requests no route took share one label: a client
//! cannot grow the number of series by asking for made-up paths.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The label of requests no route took.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Debug, Default)]
struct Histogram {
    /// Counts per bucket, not cumulative (summed when rendered).
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(bucket) = LATENCY_BUCKETS.iter().position(|le| seconds <= *le) {
            self.buckets[bucket] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Debug, Default)]
struct Requests {
    /// (route, method, status) → count
    counts: BTreeMap<(String, String, u16), u64>,
    /// (route, method) → latency
    latency: BTreeMap<(String, String), Histogram>,
}

/// The service's counters, shared by every worker thread.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<Requests>,
    /// Events committed by this instance's requests.
    events_written: std::sync::atomic::AtomicU64,
}

/// The webhook sender as it is now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookSnapshot {
    /// Deliveries due now, over every account (None: could not be read).
    pub queue_depth: Option<i64>,
    pub delivered: u64,
    pub retried: u64,
    pub failed: u64,
}

/// One connection pool as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSnapshot {
    /// `app` (the service's role) or `admin` (the owner's).
    pub pool: &'static str,
    pub max_size: u32,
    /// Connections open, idle ones included.
    pub open: u32,
    pub idle: u32,
    /// Requests waiting for a connection.
    pub waiting: u64,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one answered request.
    pub fn record_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *requests
            .counts
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        requests
            .latency
            .entry((route.to_owned(), method.to_owned()))
            .or_default()
            .observe(seconds);
    }

    /// Counts events a request committed.
    pub fn count_events(&self, count: u32) {
        self.events_written
            .fetch_add(u64::from(count), std::sync::atomic::Ordering::Relaxed);
    }

    /// Everything, in the text format.
    pub fn render(&self, pools: &[PoolSnapshot], webhooks: &WebhookSnapshot) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());

        out.push_str(
            "# HELP invoiced_http_requests_total HTTP requests answered, by route pattern, method and status.\n\
             # TYPE invoiced_http_requests_total counter\n",
        );
        for ((route, method, status), count) in &requests.counts {
            let _ = writeln!(
                out,
                "invoiced_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
                escape(route),
                escape(method)
            );
        }

        out.push_str(
            "# HELP invoiced_http_request_duration_seconds Time from a request's arrival to its response, by route pattern and method.\n\
             # TYPE invoiced_http_request_duration_seconds histogram\n",
        );
        for ((route, method), histogram) in &requests.latency {
            let labels = format!("route=\"{}\",method=\"{}\"", escape(route), escape(method));
            let mut cumulative = 0;
            for (le, count) in LATENCY_BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "invoiced_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "invoiced_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 invoiced_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 invoiced_http_request_duration_seconds_count{{{labels}}} {}",
                histogram.count, histogram.sum, histogram.count
            );
        }
        drop(requests);

        for (name, help, value) in [
            (
                "invoiced_db_pool_max_connections",
                "Connections the pool may open (DB_POOL_MAX_SIZE).",
                (|p: &PoolSnapshot| u64::from(p.max_size)) as fn(&PoolSnapshot) -> u64,
            ),
            (
                "invoiced_db_pool_connections",
                "Connections the pool holds open, idle ones included.",
                |p| u64::from(p.open),
            ),
            (
                "invoiced_db_pool_idle_connections",
                "Open connections not in use.",
                |p| u64::from(p.idle),
            ),
            (
                "invoiced_db_pool_waiting_requests",
                "Requests waiting for a connection.",
                |p| p.waiting,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for pool in pools {
                let _ = writeln!(out, "{name}{{pool=\"{}\"}} {}", pool.pool, value(pool));
            }
        }

        let _ = writeln!(
            out,
            "# HELP invoiced_events_written_total Events committed by this instance's requests.\n\
             # TYPE invoiced_events_written_total counter\n\
             invoiced_events_written_total {}",
            self.events_written
                .load(std::sync::atomic::Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP invoiced_webhook_attempts_total Delivery attempts by this instance's sender, by outcome.\n\
             # TYPE invoiced_webhook_attempts_total counter\n\
             invoiced_webhook_attempts_total{{outcome=\"delivered\"}} {}\n\
             invoiced_webhook_attempts_total{{outcome=\"retry\"}} {}\n\
             invoiced_webhook_attempts_total{{outcome=\"failed\"}} {}",
            webhooks.delivered, webhooks.retried, webhooks.failed
        );
        if let Some(depth) = webhooks.queue_depth {
            let _ = writeln!(
                out,
                "# HELP invoiced_webhook_queue_depth Deliveries due now, over every account.\n\
                 # TYPE invoiced_webhook_queue_depth gauge\n\
                 invoiced_webhook_queue_depth {depth}"
            );
        }
        out
    }
}

/// A label value as the text format wants it: backslash, quote and newline
/// escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_with_the_count() {
        let metrics = Metrics::new();
        metrics.record_request("/v1/customers", "GET", 200, 0.004);
        metrics.record_request("/v1/customers", "GET", 200, 0.2);
        metrics.record_request("/v1/customers", "GET", 404, 30.0);
        let text = metrics.render(&[], &WebhookSnapshot::default());
        assert!(text.contains(
            "invoiced_http_requests_total{route=\"/v1/customers\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains("le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("le=\"0.25\"} 2\n"), "{text}");
        assert!(text.contains("le=\"10\"} 2\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 3\n"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
