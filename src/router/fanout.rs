//! Fan-out: the answers of several engines merged into one page, the error when every
//! engine failed, and the readiness of every engine.

use std::time::{Duration, Instant};

use flowgate_core::{
    CallContext, EngineError, ErrorKind, EventQuery, Health, Page, PageRequest, Result, TaskQuery,
    WorkflowQuery,
};
use futures::future::{join_all, BoxFuture};
use tracing::Instrument;

use super::{fanout_cx, EngineEntry, EngineFailure, EngineHealth, Fanned, Router};

impl Router {
    /// Readiness of every engine, checked concurrently: an open upstream breaker answers
    /// at once (down), otherwise the engine's own health probe runs within `probe_timeout`.
    pub async fn health(&self, probe_timeout: Duration) -> Vec<EngineHealth> {
        join_all(self.engines.iter().enumerate().map(|(i, e)| async move {
            let started = Instant::now();
            let breaker = e
                .options
                .base_url
                .as_ref()
                .and_then(|u| flowgate_http::breaker_state(&e.name, u));
            let breaker_name = breaker.map(|b| match b {
                flowgate_http::BreakerState::Closed => "closed",
                flowgate_http::BreakerState::Open => "open",
                flowgate_http::BreakerState::HalfOpen => "half_open",
            });
            let health = if breaker == Some(flowgate_http::BreakerState::Open) {
                Health::Down("circuit open after repeated upstream failures".into())
            } else {
                let span = tracing::debug_span!("engine.call", engine = %e.name, op = "health");
                tokio::time::timeout(probe_timeout, e.engine.health().instrument(span))
                    .await
                    .unwrap_or_else(|_| Health::Down("health probe timed out".into()))
            };
            let (status, message) = match health {
                Health::Up => ("up", None),
                Health::Degraded(m) => ("degraded", Some(m)),
                Health::Down(m) => ("down", Some(m)),
            };
            EngineHealth {
                engine: e.name.clone(),
                kind: e.engine.info().kind,
                default: i == self.default,
                status,
                breaker: breaker_name,
                message,
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            }
        }))
        .await
    }
}

/// A page wide enough to merge: every engine returns the first `offset + limit` items.
fn widen(p: PageRequest) -> PageRequest {
    PageRequest::new(0, p.offset.saturating_add(p.limit))
}

/// A query a fan-out sends to every engine, its page widened.
pub(super) trait PagedQuery: Clone {
    /// The page asked for.
    fn page_mut(&mut self) -> &mut PageRequest;
}

impl PagedQuery for TaskQuery {
    fn page_mut(&mut self) -> &mut PageRequest {
        &mut self.page
    }
}

impl PagedQuery for WorkflowQuery {
    fn page_mut(&mut self) -> &mut PageRequest {
        &mut self.page
    }
}

impl PagedQuery for EventQuery {
    fn page_mut(&mut self) -> &mut PageRequest {
        &mut self.page
    }
}

/// Asks every engine of `engines` at once, each with its own fan-out deadline, what
/// `ask` asks with `q` widened to its first `offset + limit` items, then merges the
/// answers into `q`'s page, in the order `sort` puts them.
pub(super) async fn paged<Q: PagedQuery, T>(
    engines: &[&EngineEntry],
    cx: &CallContext,
    mut q: Q,
    ask: impl for<'a> Fn(&'a EngineEntry, &'a CallContext, Q) -> BoxFuture<'a, Result<Page<T>>>,
    sort: impl FnOnce(&mut Vec<T>),
) -> Result<Fanned<Page<T>>> {
    let page = *q.page_mut();
    *q.page_mut() = widen(page);
    let (ask, q) = (&ask, &q);
    let results = join_all(engines.iter().map(|e| async move {
        let cx = fanout_cx(e, cx);
        ask(e, &cx, q.clone()).await
    }))
    .await;
    merged_page(engines, results, page, sort)
}

/// The page `page` of the engines' answers merged into one list: totals summed, items
/// put in order by `sort`, failed engines listed beside the page.
fn merged_page<T>(
    engines: &[&EngineEntry],
    results: Vec<Result<Page<T>>>,
    page: PageRequest,
    sort: impl FnOnce(&mut Vec<T>),
) -> Result<Fanned<Page<T>>> {
    let Fanned { value, failures } = merge(engines, results)?;
    let total = value.iter().map(|(_, p)| p.total).sum();
    let mut items: Vec<T> = value.into_iter().flat_map(|(_, p)| p.items).collect();
    sort(&mut items);
    Ok(Fanned {
        value: Page {
            items: items
                .into_iter()
                .skip(page.offset)
                .take(page.limit)
                .collect(),
            total,
        },
        failures,
    })
}

/// Keeps the successful results of a fan-out with their engine and reports the failed
/// engines; fails only when every engine failed.
pub(super) fn merge<'e, T>(
    engines: &[&'e EngineEntry],
    results: Vec<Result<T>>,
) -> Result<Fanned<Vec<(&'e EngineEntry, T)>>> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for (e, r) in engines.iter().zip(results) {
        match r {
            Ok(v) => ok.push((*e, v)),
            Err(err) => {
                tracing::warn!(engine = %e.name, error_code = err.kind().code(), error = %err, "engine failed during fan-out");
                errors.push((*e, err));
            }
        }
    }
    if ok.is_empty() && !errors.is_empty() {
        return Err(all_failed(errors));
    }
    Ok(Fanned {
        value: ok,
        failures: errors
            .iter()
            .map(|(e, err)| EngineFailure::of(e, err))
            .collect(),
    })
}

/// The error of a fan-out in which every engine failed: a refusal (4xx kind) is passed
/// on; otherwise 504 when all timed out, 503 when all were unavailable, 502 for a mix.
fn all_failed(errors: Vec<(&EngineEntry, EngineError)>) -> EngineError {
    let transient = |k: ErrorKind| {
        matches!(
            k,
            ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Upstream
        )
    };
    if errors.len() == 1 || errors.iter().any(|(_, e)| !transient(e.kind())) {
        let idx = errors
            .iter()
            .position(|(_, e)| !transient(e.kind()))
            .unwrap_or(0);
        return errors
            .into_iter()
            .nth(idx)
            .map(|(_, e)| e)
            .unwrap_or_else(|| EngineError::Unavailable("no engine answered".into()));
    }
    let summary = errors
        .iter()
        .map(|(e, err)| format!("{}: {}", e.name, err.kind().code()))
        .collect::<Vec<_>>()
        .join(", ");
    let msg = format!("No engine answered ({summary})");
    if errors.iter().all(|(_, e)| e.kind() == ErrorKind::Timeout) {
        EngineError::Timeout(msg)
    } else if errors
        .iter()
        .all(|(_, e)| e.kind() == ErrorKind::Unavailable)
    {
        EngineError::Unavailable(msg)
    } else {
        EngineError::upstream(None, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widened_page_covers_offset_and_limit() {
        assert_eq!(widen(PageRequest::new(10, 5)), PageRequest::new(0, 15));
        assert_eq!(widen(PageRequest::all()).limit, usize::MAX);
    }
}
