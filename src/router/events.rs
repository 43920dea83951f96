//! Workflow events across engines: the document's engine for a document query, every
//! engine keeping events otherwise. Engines without an event log contribute nothing.

use std::sync::Arc;

use flowgate_core::{DocLocator, Event, EventQuery, Page, PageRequest, Result};
use tokio::sync::broadcast;

use super::fanout::paged;
use super::{call, scoped, EngineEntry, Fanned, Router};

impl Router {
    /// Events matching `q` that the caller may see, ids as the gateway shows them.
    /// With a document: its engine only (an empty page when that engine keeps no
    /// events). Otherwise merged from every engine keeping events, by time, then
    /// engine, then sequence number, and paged here.
    pub async fn events(
        &self,
        cx: &flowgate_core::CallContext,
        mut q: EventQuery,
    ) -> Result<Fanned<Page<Event>>> {
        q.page.limit = q.page.limit.min(self.limits.max_page_size);
        if let Some(doc) = q.document.take() {
            let (e, loc) = self.resolve_document(&DocLocator::Id(doc))?;
            let DocLocator::Id(native) = loc else {
                return Ok(Fanned::whole(Page::empty()));
            };
            if !e.engine.keeps_events() {
                return Ok(Fanned::whole(Page::empty()));
            }
            q.document = Some(native);
            let cx = scoped(e, cx);
            let p = call(e, "events", &cx, e.engine.events(&cx, q)).await?;
            return Ok(Fanned::whole(p.map(|ev| Self::out_event(e, ev))));
        }
        let engines: Vec<&EngineEntry> = self
            .engines()
            .iter()
            .filter(|e| e.engine.keeps_events())
            .collect();
        if engines.is_empty() {
            return Ok(Fanned::whole(Page::empty()));
        }
        paged(
            &engines,
            cx,
            q,
            |e, cx, q| {
                Box::pin(async move {
                    let p = call(e, "events", cx, e.engine.events(cx, q)).await?;
                    Ok(p.map(|ev| Self::out_event(e, ev)))
                })
            },
            |items| items.sort_by(|a, b| (a.at, &a.engine, a.seq).cmp(&(b.at, &b.engine, b.seq))),
        )
        .await
    }

    /// Events of engine `engine` (its configured name) after sequence number `after`
    /// that the caller may see, at most `limit`, oldest first, ids as the gateway shows
    /// them. An unknown engine or one keeping no events answers an empty page. Read as
    /// a feed: `total` is not the count of what follows (see
    /// [`Router::event_count_after`]).
    pub async fn events_after(
        &self,
        cx: &flowgate_core::CallContext,
        engine: &str,
        after: u64,
        limit: usize,
    ) -> Result<Page<Event>> {
        self.after(cx, engine, after, limit, true).await
    }

    /// How many events of engine `engine` after sequence number `after` the caller may
    /// see (0 for an unknown engine or one keeping no events).
    pub async fn event_count_after(
        &self,
        cx: &flowgate_core::CallContext,
        engine: &str,
        after: u64,
    ) -> Result<usize> {
        Ok(self.after(cx, engine, after, 1, false).await?.total)
    }

    async fn after(
        &self,
        cx: &flowgate_core::CallContext,
        engine: &str,
        after: u64,
        limit: usize,
        page_only: bool,
    ) -> Result<Page<Event>> {
        let Some(e) = self
            .engines()
            .iter()
            .find(|e| e.name == engine && e.engine.keeps_events())
        else {
            return Ok(Page::empty());
        };
        let q = EventQuery {
            after_seq: Some(after),
            page: PageRequest::new(0, limit.min(self.limits.max_page_size).max(1)),
            page_only,
            ..EventQuery::default()
        };
        let cx = scoped(e, cx);
        let p = call(e, "events", &cx, e.engine.events(&cx, q)).await?;
        Ok(p.map(|ev| Self::out_event(e, ev)))
    }

    /// Sequence number of the last event of engine `engine` the caller may see (0 when
    /// none, or for an unknown engine or one keeping no events). Two engine calls: the
    /// count, then the last entry.
    pub async fn last_event_seq(
        &self,
        cx: &flowgate_core::CallContext,
        engine: &str,
    ) -> Result<u64> {
        let Some(e) = self
            .engines()
            .iter()
            .find(|e| e.name == engine && e.engine.keeps_events())
        else {
            return Ok(0);
        };
        let cx = scoped(e, cx);
        let mut q = EventQuery {
            after_seq: Some(0),
            page: PageRequest::new(0, 1),
            ..EventQuery::default()
        };
        let total = call(e, "events", &cx, e.engine.events(&cx, q.clone()))
            .await?
            .total;
        if total == 0 {
            return Ok(0);
        }
        q.page = PageRequest::new(total - 1, 1);
        let p = call(e, "events", &cx, e.engine.events(&cx, q)).await?;
        Ok(p.items.last().map_or(0, |ev| ev.seq))
    }

    /// A receiver of the live events of every engine that publishes them, with what it
    /// takes to show those events as the gateway does. Holds no engine.
    pub fn live_sources(&self) -> Vec<LiveSource> {
        self.engines()
            .iter()
            .filter_map(|e| {
                e.engine.live_events().map(|rx| LiveSource {
                    name: e.name.clone(),
                    prefix: e.prefix.clone(),
                    rx,
                })
            })
            .collect()
    }

    /// An event with the engine's configured name and its ids as the gateway shows them.
    fn out_event(e: &EngineEntry, mut ev: Event) -> Event {
        ev.engine = e.name.clone();
        if e.prefix.is_none() {
            return ev;
        }
        ev.workflow_id = Self::outward(e, &ev.workflow_id);
        ev.task_id = ev.task_id.map(|t| Self::outward(e, &t));
        ev.documents = Self::out_docs(e, std::mem::take(&mut ev.documents));
        out_extended(&mut ev, |id| Self::outward(e, id));
        ev
    }
}

/// The live events of one engine (see [`Router::live_sources`]).
pub struct LiveSource {
    /// Configured name of the engine.
    pub name: String,
    prefix: Option<String>,
    /// Events as the engine commits them.
    pub rx: broadcast::Receiver<Arc<Event>>,
}

impl LiveSource {
    /// The events of the default engine `name` (ids unchanged), read from `rx`.
    #[cfg(test)]
    pub(crate) fn unprefixed(name: &str, rx: broadcast::Receiver<Arc<Event>>) -> Self {
        Self {
            name: name.to_owned(),
            prefix: None,
            rx,
        }
    }

    /// The event with the engine's configured name and gateway-visible ids.
    pub fn outward(&self, ev: &Event) -> Event {
        let mut ev = ev.clone();
        ev.engine = self.name.clone();
        if let Some(p) = &self.prefix {
            let out = |id: &str| format!("{p}{}{id}", super::PREFIX_SEP);
            ev.workflow_id = out(&ev.workflow_id);
            ev.task_id = ev.task_id.as_deref().map(out);
            ev.documents = ev.documents.iter().map(|d| out(d)).collect();
            out_extended(&mut ev, out);
        }
        ev
    }
}

/// The workflow id Nuxeo's extended info repeats (`workflowInstanceId`), as the gateway
/// shows it.
fn out_extended(ev: &mut Event, out: impl Fn(&str) -> String) {
    let key = flowgate_core::events::extended::WORKFLOW_INSTANCE_ID;
    if let Some(serde_json::Value::String(id)) = ev.extended.get_mut(key) {
        *id = out(id);
    }
}
