//! Workflow events across engines: the document's engine for a document query, every
//! engine keeping events otherwise. Engines without an event log contribute nothing.

use flowgate_core::{DocLocator, Event, EventQuery, Page, Result};
use futures::future::join_all;

use super::{call, fanout_cx, merge, scoped, widen, EngineEntry, Fanned, Router};

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
        let page = q.page;
        let results = join_all(engines.iter().map(|e| {
            let mut q = q.clone();
            q.page = widen(page);
            async move {
                let cx = fanout_cx(e, cx);
                call(e, "events", &cx, e.engine.events(&cx, q))
                    .await
                    .map(|p| p.map(|ev| Self::out_event(e, ev)))
            }
        }))
        .await;
        let Fanned { value, failures } = merge(&engines, results)?;
        let total = value.iter().map(|(_, p)| p.total).sum();
        let mut items: Vec<Event> = value.into_iter().flat_map(|(_, p)| p.items).collect();
        items.sort_by(|a, b| (a.at, &a.engine, a.seq).cmp(&(b.at, &b.engine, b.seq)));
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

    /// An event with the engine's configured name and its ids as the gateway shows them.
    fn out_event(e: &EngineEntry, mut ev: Event) -> Event {
        ev.engine = e.name.clone();
        if e.prefix.is_none() {
            return ev;
        }
        ev.workflow_id = Self::outward(e, &ev.workflow_id);
        ev.task_id = ev.task_id.map(|t| Self::outward(e, &t));
        ev.documents = Self::out_docs(e, std::mem::take(&mut ev.documents));
        ev
    }
}
