//! Workflow events of a CQ / AEM engine, derived by polling (`events_poll_secs`): the
//! feed is opened with the engine and polled by a periodic job (the gateway's registry)
//! or by [`CqEngine::spawn_event_poller`]. Each poll reads the running instances and
//! open work items through this engine as an administrator (the service account).

use std::sync::Arc;

use async_trait::async_trait;
use flowgate_core::{CallContext, Result, Task, WorkflowEngine};
use flowgate_poll::EventFeed;

use super::tasks::history_rows;
use super::CqEngine;
use crate::config::CqConfig;
use crate::ids;
use crate::wire::History;

/// The feed of engine `name` when its configuration turns polling on.
pub(super) fn open_feed(name: &str, cfg: &CqConfig) -> Result<Option<Arc<EventFeed>>> {
    EventFeed::configured(name, cfg.events(&format!("engines.{name}")))
}

impl CqEngine {
    /// The event feed, when `events_poll_secs` turns polling on.
    pub fn event_feed(&self) -> Option<&Arc<EventFeed>> {
        self.feed.as_ref()
    }

    /// Polls the upstream for events every `events_poll_secs` on the current tokio
    /// runtime until the handle is aborted (the first poll runs at once). `None` when
    /// polling is off.
    pub fn spawn_event_poller(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let feed = self.feed.clone()?;
        let engine: Arc<dyn WorkflowEngine> = self.clone();
        Some(flowgate_poll::spawn(feed, engine, self.clone()))
    }

    /// One poll now, as a blocking call on a blocking thread of the current runtime
    /// (the gateway's periodic jobs). Returns how many events it derived.
    pub fn poll_events_blocking(&self) -> usize {
        match &self.feed {
            Some(feed) => flowgate_poll::poll_blocking(feed, self, self),
            None => 0,
        }
    }
}

/// The completing user (and action, when the server records one) of an ended work
/// item, from the instance's history: the ended task itself names only its step's
/// assignee, often a group.
#[async_trait]
impl flowgate_poll::Completions for CqEngine {
    async fn completion(&self, cx: &CallContext, task: &Task) -> (Option<String>, Option<String>) {
        let Ok((item, inst)) = ids::task_path(&task.id, self.root()) else {
            return (None, None);
        };
        let history = match self
            .client
            .get_json::<History>(
                cx,
                "task_history",
                "/libs/cq/workflow/content/console/history",
                ".json",
                &[("workflow", inst.as_str())],
            )
            .await
        {
            Ok(h) => h.items,
            Err(e) => {
                tracing::info!(engine = %self.name(), error = %e, "history unavailable; ended task without its completing user");
                return (None, None);
            }
        };
        let rows = history_rows(&history, &item, &task.name);
        let Some(done) = rows.iter().rev().find(|h| h.status == "Completed") else {
            return (None, None);
        };
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        (nonempty(&done.action), nonempty(&done.user))
    }
}
