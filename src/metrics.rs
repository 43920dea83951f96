//! Prometheus metrics at `GET /metrics` (unauthenticated; `[metrics] enabled = false`
//! removes the endpoint and the per-request accounting).
//!
//! Series:
//! - `flowgate_http_requests_total{method,route,status}`, `flowgate_http_request_duration_seconds`
//!   (histogram, same labels) and `flowgate_http_requests_in_flight`, recorded by the
//!   gateway's edge middleware through [`record_request`] and [`in_flight`].
//!   `route` is the matched route template (`/api/v1/task/{id}`), `unmatched` for paths no
//!   route knows: never a raw path, so ids cannot blow up the label space.
//! - `flowgate_engine_calls_total{engine,op,outcome}`, `flowgate_engine_call_duration_seconds`
//!   and `flowgate_breaker_open{engine}`, emitted by `flowgate-http` for remote engines.
//! - `flowgate_workflows_running{engine}` and `flowgate_tasks_open{engine}`, read from each
//!   embedded engine of this application when scraped.
//!
//! Everything goes through the `metrics` facade into one Prometheus recorder installed once
//! per process ([`recorder`]), however many applications the process builds (tests build
//! dozens). The embedded-engine counts are not global: each scrape reads the engines of the
//! application that answers it.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use flowgate_core::WorkflowEngine;
use flowgate_memory::{EngineStats, MemoryEngine};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use parking_lot::Mutex;

use crate::error::ApiError;
use crate::settings::MetricsSettings;
use crate::AppState;

/// Where the metrics are served.
pub const PATH: &str = "/metrics";

/// Histogram buckets of every `*_duration_seconds` series, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
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
}

/// Registers the `/metrics` route when enabled.
pub fn configure(cfg: &mut web::ServiceConfig, settings: &MetricsSettings) {
    if settings.enabled {
        cfg.service(crate::routes::resource(PATH).get(scrape));
    }
}

/// `GET /metrics`: Prometheus metrics in the text exposition format. Served without
/// authentication (put it behind the network boundary or turn it off with
/// `[metrics] enabled = false`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 503, description = "No recorder could be installed", body = crate::error::ExceptionBody),
    )
)]
pub(crate) async fn scrape(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let handle = recorder().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics_unavailable",
            "Metrics are not available: another metrics recorder is installed",
        )
    })?;
    metrics::gauge!("flowgate_http_requests_in_flight").set(in_flight_total() as f64);
    let mut body = handle.render();
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        render_engine_stats(
            &mut body,
            state
                .router
                .engines()
                .iter()
                .map(|e| (e.name.as_str(), &e.engine)),
        );
    }
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
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
fn render_engine_stats<'a>(
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

/// One thread's count of requests in flight, on a cache line of its own.
#[repr(align(128))]
#[derive(Debug, Default)]
struct InFlightSlot(std::sync::atomic::AtomicI64);

/// Every thread's slot; a scrape publishes their sum as
/// `flowgate_http_requests_in_flight`. One shared gauge had every request on every
/// worker write the same cache line (handle clone, increment, decrement, release), and
/// the workers run on different cores.
static IN_FLIGHT_SLOTS: std::sync::Mutex<Vec<std::sync::Arc<InFlightSlot>>> =
    std::sync::Mutex::new(Vec::new());

/// Requests in flight now, over every thread.
fn in_flight_total() -> i64 {
    let slots = IN_FLIGHT_SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    slots
        .iter()
        .map(|s| s.0.load(std::sync::atomic::Ordering::Relaxed))
        .sum()
}

/// Counts a request in this thread's slot while it lives.
struct InFlight(std::sync::Arc<InFlightSlot>);

impl InFlight {
    fn enter() -> Self {
        let slot = IN_FLIGHT.with(std::sync::Arc::clone);
        slot.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        InFlight(slot)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // Runs on completion, error and cancellation (client gone) alike.
        self.0 .0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The series of one (method, route, status) combination.
struct RequestSeries {
    count: metrics::Counter,
    duration: metrics::Histogram,
}

/// Metric handles already registered by this worker thread. Looking a series up in the
/// recorder hashes and compares its name and labels; a worker answers the same few
/// combinations over and over, so it keeps their handles (bounded by the route table
/// size × methods × statuses seen).
///
/// Hashed with foldhash, not SipHash: the keys are route templates, methods and
/// statuses the gateway itself produced (no caller chooses them), and every request
/// hashes one.
#[derive(Default)]
struct Handles {
    series: std::collections::HashMap<
        (&'static str, Rc<str>, u16),
        RequestSeries,
        foldhash::fast::RandomState,
    >,
}

thread_local! {
    static HANDLES: RefCell<Handles> = RefCell::new(Handles::default());
    static UNMATCHED: Rc<str> = Rc::from("unmatched");
    static IN_FLIGHT: std::sync::Arc<InFlightSlot> = {
        let slot = std::sync::Arc::new(InFlightSlot::default());
        IN_FLIGHT_SLOTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(std::sync::Arc::clone(&slot));
        slot
    };
}

/// Runs `f` on the handles of a series (used in place: cloning a handle would write its
/// shared reference count).
fn with_series(method: &'static str, route: Rc<str>, status: u16, f: impl FnOnce(&RequestSeries)) {
    HANDLES.with(|h| {
        let mut h = h.borrow_mut();
        let s = h
            .series
            .entry((method, route, status))
            .or_insert_with_key(|key| {
                let labels = [
                    ("method", method.to_owned()),
                    ("route", key.1.to_string()),
                    ("status", status.to_string()),
                ];
                RequestSeries {
                    count: metrics::counter!("flowgate_http_requests_total", &labels),
                    duration: metrics::histogram!(
                        "flowgate_http_request_duration_seconds",
                        &labels
                    ),
                }
            });
        f(s);
    })
}

/// The route template a response was produced by: learned once per resource (see
/// [`crate::routes::RouteSlot`]), `unmatched` when no resource answered.
pub(crate) fn route_of(req: &HttpRequest) -> Rc<str> {
    match req.app_data::<crate::routes::RouteSlot>() {
        Some(slot) => slot.template(req),
        None => match req.match_pattern() {
            Some(p) => Rc::from(p),
            None => unmatched(),
        },
    }
}

/// Counts one answered request: `flowgate_http_requests_total` and its latency, labelled
/// with the method, the route template the request matched ([`route_of`], `unmatched`
/// when refused before routing) and the status.
pub(crate) fn record_request(method: &Method, route: Rc<str>, status: u16, elapsed: Duration) {
    with_series(method_label(method), route, status, |s| {
        s.count.increment(1);
        s.duration.record(elapsed.as_secs_f64());
    });
}

/// The route label of requests refused before routing (413, CORS).
pub(crate) fn unmatched() -> Rc<str> {
    UNMATCHED.with(Rc::clone)
}

/// Counts a request in `flowgate_http_requests_in_flight` until the guard is dropped.
pub(crate) fn in_flight() -> impl Drop {
    InFlight::enter()
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
