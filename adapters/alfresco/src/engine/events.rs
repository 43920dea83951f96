//! Workflow events of an Alfresco engine, derived by polling (`events_poll_secs`): the
//! feed is opened with the engine and polled by a periodic job (the gateway's registry)
//! or by [`AlfrescoEngine::spawn_event_poller`]. Each poll reads the running processes
//! and open tasks through this engine as an administrator (the service account).

use std::sync::Arc;

use flowgate_core::{Result, WorkflowEngine};
use flowgate_poll::EventFeed;

use super::AlfrescoEngine;
use crate::config::AlfrescoConfig;

/// The feed of engine `name` when its configuration turns polling on.
pub(super) fn open_feed(name: &str, cfg: &AlfrescoConfig) -> Result<Option<Arc<EventFeed>>> {
    EventFeed::configured(name, cfg.events(&format!("engines.{name}")))
}

impl AlfrescoEngine {
    /// The event feed, when `events_poll_secs` turns polling on.
    pub fn event_feed(&self) -> Option<&Arc<EventFeed>> {
        self.feed.as_ref()
    }

    /// Polls the upstream for events every `events_poll_secs` on the current tokio
    /// runtime until the handle is aborted (the first poll runs at once). `None` when
    /// polling is off.
    pub fn spawn_event_poller(&self) -> Option<tokio::task::JoinHandle<()>> {
        let feed = self.feed.clone()?;
        let engine: Arc<dyn WorkflowEngine> = Arc::new(self.clone());
        Some(flowgate_poll::spawn(
            feed,
            engine,
            Arc::new(flowgate_poll::TaskOnly),
        ))
    }

    /// One poll now, as a blocking call on a blocking thread of the current runtime
    /// (the gateway's periodic jobs). Returns how many events it derived.
    pub fn poll_events_blocking(&self) -> usize {
        match &self.feed {
            Some(feed) => flowgate_poll::poll_blocking(feed, self, &flowgate_poll::TaskOnly),
            None => 0,
        }
    }
}
