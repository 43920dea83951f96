//! Prometheus metrics: the recorder, the request accounting and the series read when
//! scraped. The endpoint `GET /metrics` is `crate::routes::metrics` (`[metrics] enabled =
//! false` removes it and the per-request accounting; `require_auth` answers
//! administrators only; `bind` serves it on its own address).
//!
//! Series:
//! - `flowgate_http_requests_total{method,route,status}`, `flowgate_http_request_duration_seconds`
//!   (histogram, same labels) and `flowgate_http_requests_in_flight`, recorded by
//!   [`middleware`].
//!   `route` is the matched route template (`/api/v1/task/{id}`), `unmatched` for paths no
//!   route knows: never a raw path, so ids cannot blow up the label space.
//! - `flowgate_engine_calls_total{engine,op,outcome}`, `flowgate_engine_call_duration_seconds`
//!   and `flowgate_breaker_open{engine}`, emitted by `flowgate-http` for remote engines.
//! - `flowgate_workflows_running{engine}` and `flowgate_tasks_open{engine}`, read from each
//!   embedded engine of this application when scraped.
//! - `flowgate_events_polls_total{engine,outcome}`, `flowgate_events_poll_duration_seconds`,
//!   `flowgate_events_poll_last_success_timestamp_seconds`, `flowgate_events_poll_lag_seconds`,
//!   `flowgate_events_poll_failures_consecutive` and `flowgate_events_derived_total`, emitted
//!   by `flowgate-poll` for remote engines whose events are derived by polling.
//! - `flowgate_events_total{engine,type}`: workflow events committed, counted once each by
//!   the live relay of [`crate::live`] (`flowgate_events_missed_total{engine}` counts
//!   those a relay that fell behind could not see); `flowgate_event_streams_open`: open
//!   `GET /api/v1/events` streams of this application, read when scraped.
//! - `flowgate_webhook_deliveries_total{endpoint,outcome}` (`delivered`,
//!   `dead_lettered`: one per event settled), `flowgate_webhook_failures_total{endpoint,reason}`
//!   (failed attempts: `connect`, `timeout`, `status`, `tls`, `other`) and
//!   `flowgate_webhook_delivery_latency_seconds{endpoint}` (from the event's commit to the
//!   receiver's 2xx, retries included), recorded by [`crate::webhooks::delivery`].
//!
//! Everything goes through the `metrics` facade into one Prometheus recorder installed once
//! per process ([`recorder`]), however many applications the process builds (tests build
//! dozens). The embedded-engine counts are not global: each scrape reads the engines of the
//! application that answers it.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use flowgate_core::WorkflowEngine;
use flowgate_memory::{EngineStats, MemoryEngine};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use parking_lot::Mutex;

/// Where the metrics are served.
pub const PATH: &str = "/metrics";

/// Histogram buckets of every `*_duration_seconds` series, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Buckets of `flowgate_webhook_delivery_latency_seconds`: from a direct delivery
/// (tens of milliseconds) to a day of retries.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0, 21600.0, 86400.0,
];

/// How often histogram samples are folded into their buckets when nobody scrapes, so that
/// memory stays bounded.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process-wide Prometheus recorder, installed on first use. `None` when another
/// recorder was installed first (an embedding program's): `/metrics` then answers 503.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_duration_seconds".to_owned()),
                    BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("flowgate_webhook_delivery_latency_seconds".to_owned()),
                        LATENCY_BUCKETS,
                    )
                })
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => {
                    describe();
                    start_upkeep(handle.clone());
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics answers 503");
                    None
                }
            }
        })
        .as_ref()
}

fn start_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("flowgate-metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        // Scrapes still fold samples; only unscraped memory growth is at stake.
        tracing::warn!(error = %e, "metrics upkeep thread not started");
    }
}

fn describe() {
    metrics::describe_counter!(
        "flowgate_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    metrics::describe_histogram!(
        "flowgate_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by method, route template and status"
    );
    metrics::describe_gauge!(
        "flowgate_http_requests_in_flight",
        "HTTP requests being answered"
    );
    metrics::describe_counter!(
        "flowgate_engine_calls_total",
        "Calls to remote engines, by engine, operation and outcome"
    );
    metrics::describe_histogram!(
        "flowgate_engine_call_duration_seconds",
        metrics::Unit::Seconds,
        "Time of calls to remote engines (retries included), by engine and operation"
    );
    metrics::describe_gauge!(
        "flowgate_breaker_open",
        "1 while the circuit breaker in front of a remote engine is open"
    );
    metrics::describe_counter!(
        "flowgate_events_polls_total",
        "Event polls of remote engines, by engine and outcome (ok, error)"
    );
    metrics::describe_histogram!(
        "flowgate_events_poll_duration_seconds",
        metrics::Unit::Seconds,
        "Time of one event poll of a remote engine"
    );
    metrics::describe_gauge!(
        "flowgate_events_poll_last_success_timestamp_seconds",
        "Unix time of the start of the last successful event poll, by engine"
    );
    metrics::describe_gauge!(
        "flowgate_events_poll_lag_seconds",
        "Age of the upstream state the events reflect, as of the last poll attempt, by engine"
    );
    metrics::describe_gauge!(
        "flowgate_events_poll_failures_consecutive",
        "Event polls failed since the last success, by engine"
    );
    metrics::describe_counter!(
        "flowgate_events_derived_total",
        "Workflow events derived by polling, by engine"
    );
    metrics::describe_counter!(
        "flowgate_events_total",
        "Workflow events committed, by engine and routing event id (type)"
    );
    metrics::describe_counter!(
        "flowgate_events_missed_total",
        "Workflow events the live relay of an engine fell too far behind to see"
    );
    metrics::describe_counter!(
        "flowgate_webhook_deliveries_total",
        "Events settled per webhook endpoint: delivered (2xx) or dead_lettered"
    );
    metrics::describe_counter!(
        "flowgate_webhook_failures_total",
        "Failed webhook delivery attempts, by endpoint and reason"
    );
    metrics::describe_histogram!(
        "flowgate_webhook_delivery_latency_seconds",
        metrics::Unit::Seconds,
        "Time from an event's commit to its receiver's 2xx, retries included, by endpoint"
    );
}

/// Embedded engines built by the registry, known by address so that a scrape can find
/// the statistics of the engines behind its own router (`dyn WorkflowEngine` has none).
static MEMORY_ENGINES: Mutex<Vec<(usize, Weak<MemoryEngine>)>> = Mutex::new(Vec::new());

fn address<T: ?Sized>(p: *const T) -> usize {
    p.cast::<()>() as usize
}

/// Makes an embedded engine's counts (running workflows, open tasks) visible to
/// `/metrics`. Called by the registry for every embedded engine it builds.
pub fn track_memory_engine(engine: &Arc<MemoryEngine>) {
    let mut list = MEMORY_ENGINES.lock();
    list.retain(|(_, w)| w.strong_count() > 0);
    list.push((address(Arc::as_ptr(engine)), Arc::downgrade(engine)));
}

fn memory_stats(engine: &Arc<dyn WorkflowEngine>) -> Option<EngineStats> {
    let addr = address(Arc::as_ptr(engine));
    let list = MEMORY_ENGINES.lock();
    list.iter()
        .filter(|(a, _)| *a == addr)
        .find_map(|(_, w)| w.upgrade())
        .map(|e| e.stats())
}

/// One gauge read from [`EngineStats`]: name, help text, value.
type Gauge = (&'static str, &'static str, fn(&EngineStats) -> usize);

/// Appends `flowgate_workflows_running` and `flowgate_tasks_open` for the embedded
/// engines among `engines`.
pub(crate) fn render_engine_stats<'a>(
    out: &mut String,
    engines: impl Iterator<Item = (&'a str, &'a Arc<dyn WorkflowEngine>)>,
) {
    let stats: Vec<(&str, EngineStats)> = engines
        .filter_map(|(name, e)| memory_stats(e).map(|s| (name, s)))
        .collect();
    if stats.is_empty() {
        return;
    }
    let series: [Gauge; 2] = [
        (
            "flowgate_workflows_running",
            "Workflow instances in state running, per embedded engine",
            |s| s.running_workflows,
        ),
        (
            "flowgate_tasks_open",
            "Tasks in state opened, per embedded engine",
            |s| s.open_tasks,
        ),
    ];
    for (name, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (engine, s) in &stats {
            let _ = writeln!(
                out,
                "{name}{{engine=\"{}\"}} {}",
                escape_label(engine),
                value(s)
            );
        }
    }
}

/// Appends `flowgate_event_streams_open`: the open event streams of the application
/// answering the scrape.
pub(crate) fn render_streams(out: &mut String, open: usize) {
    let _ = writeln!(
        out,
        "# HELP flowgate_event_streams_open Open GET /api/v1/events streams\n\
         # TYPE flowgate_event_streams_open gauge\nflowgate_event_streams_open {open}"
    );
}

/// Escapes a label value for the text format.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `method` label: standard methods by name, anything else as `OTHER`, so that
/// made-up methods cannot add label values.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// Keeps `flowgate_http_requests_in_flight` raised while a request is answered, and
/// lowers it on completion, error and cancellation (client gone) alike.
struct InFlight(metrics::Gauge);

impl InFlight {
    fn enter() -> Self {
        let g = metrics::gauge!("flowgate_http_requests_in_flight");
        g.increment(1.0);
        Self(g)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The route label of requests no resource answered (404, or refused before routing:
/// 413, CORS).
const UNMATCHED: &str = "unmatched";

/// The middleware counting requests: `flowgate_http_requests_in_flight` while a request
/// is answered, then `flowgate_http_requests_total` and its latency, labelled with the
/// method, the route template the request matched (`unmatched` when none did) and the
/// status.
pub async fn middleware<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let started = Instant::now();
    let _in_flight = InFlight::enter();
    let method = method_label(req.method());
    let res = next.call(req).await;
    let (route, status) = match &res {
        Ok(r) => (
            r.request()
                .match_pattern()
                .unwrap_or_else(|| UNMATCHED.to_owned()),
            r.status().as_u16(),
        ),
        Err(e) => (
            UNMATCHED.to_owned(),
            e.as_response_error().status_code().as_u16(),
        ),
    };
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("flowgate_http_requests_total", &labels).increment(1);
    metrics::histogram!("flowgate_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_stats_render_only_for_tracked_embedded_engines() {
        let tracked = Arc::new(MemoryEngine::builtin("local").unwrap());
        track_memory_engine(&tracked);
        let other: Arc<dyn WorkflowEngine> = Arc::new(MemoryEngine::builtin("other").unwrap());
        let tracked_dyn: Arc<dyn WorkflowEngine> = tracked.clone();
        let mut out = String::new();
        render_engine_stats(
            &mut out,
            [("local", &tracked_dyn), ("other", &other)].into_iter(),
        );
        assert!(
            out.contains("# TYPE flowgate_workflows_running gauge"),
            "{out}"
        );
        assert!(
            out.contains("flowgate_workflows_running{engine=\"local\"} 0"),
            "{out}"
        );
        assert!(
            out.contains("flowgate_tasks_open{engine=\"local\"} 0"),
            "{out}"
        );
        assert!(!out.contains("other"), "{out}");
    }

    #[test]
    fn label_values_are_escaped_and_methods_bounded() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "OTHER");
    }
}
