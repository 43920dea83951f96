//! Metrics of the embedded engines on PostgreSQL: connections of the pool (open, in
//! use, waiting) and the time spent in database operations, per engine. Appended to
//! `/metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::{Arc, Weak};

use flowgate_memory::pg::PgEngine;
use parking_lot::Mutex;

static ENGINES: Mutex<Vec<(String, Weak<PgEngine>)>> = Mutex::new(Vec::new());

/// Makes `engine`'s counters visible on `/metrics` while it lives.
pub fn track(name: &str, engine: &Arc<PgEngine>) {
    let mut list = ENGINES.lock();
    list.retain(|(_, w)| w.strong_count() > 0);
    list.push((name.to_owned(), Arc::downgrade(engine)));
}

/// Appends the series of every tracked engine.
pub fn render(out: &mut String) {
    let stats: Vec<(String, flowgate_memory::pg::PgStats)> = ENGINES
        .lock()
        .iter()
        .filter_map(|(n, w)| w.upgrade().map(|e| (n.clone(), e.pg_stats())))
        .collect();
    if stats.is_empty() {
        return;
    }
    type Series = (
        &'static str,
        &'static str,
        &'static str,
        fn(&flowgate_memory::pg::PgStats) -> f64,
    );
    let series: [Series; 6] = [
        (
            "flowgate_db_connections",
            "gauge",
            "Open connections of the pool",
            |s| f64::from(s.connections),
        ),
        (
            "flowgate_db_connections_in_use",
            "gauge",
            "Connections busy with a request",
            |s| f64::from(s.in_use),
        ),
        (
            "flowgate_db_waiting",
            "gauge",
            "Requests waiting for a connection",
            |s| s.waiting as f64,
        ),
        (
            "flowgate_db_operations_total",
            "counter",
            "Database operations of the engine that finished",
            |s| s.operations as f64,
        ),
        (
            "flowgate_db_operation_seconds_total",
            "counter",
            "Time spent in database operations",
            |s| s.seconds,
        ),
        (
            "flowgate_db_failures_total",
            "counter",
            "Database operations that failed (unreachable, timeout, error)",
            |s| s.failures as f64,
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (engine, s) in &stats {
            let _ = writeln!(out, "{name}{{engine=\"{engine}\"}} {}", value(s));
        }
    }
}
