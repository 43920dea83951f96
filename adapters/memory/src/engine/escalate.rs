//! Escalation rules of the embedded engine: a periodic run moving on the running
//! instances whose node has a due rule (e.g. the parallel review's `forceNext`).

use std::sync::Arc;

use super::MemoryEngine;
use crate::ops;
use crate::runner::Txn;

impl MemoryEngine {
    /// Runs due escalation rules (e.g. the parallel review's `forceNext`) on every
    /// running instance; meant to be called periodically. Returns how many instances
    /// moved on. An instance busy with a request is left for the next run. With
    /// durable storage this waits for each commit: call it from a blocking thread.
    pub fn run_escalations(&self) -> usize {
        let mut moved = 0;
        for id in self.store.running_workflows() {
            let Some(slot) = self.store.slot(&id) else {
                continue;
            };
            // Cheap look at a snapshot first; lock only instances that may escalate.
            let snapshot = slot.get();
            let Some(model) = self.models.get(&*snapshot.model) else {
                continue;
            };
            if !ops::may_escalate(&snapshot, model) {
                continue;
            }
            let Some(guard) = slot.try_lock() else {
                continue;
            };
            let wf = slot.get();
            if !ops::may_escalate(&wf, model) {
                continue;
            }
            let mut txn = Txn::new(model, (*wf).clone(), &self.store, &wf.initiator);
            txn.limits = self.limits;
            match txn.escalate() {
                Ok(true) => match self.commit_blocking(txn.into_changes(), Some(guard)) {
                    Ok(()) => moved += 1,
                    Err(e) => {
                        tracing::warn!(workflow = %id, error = %e, "escalation not saved; nothing changed")
                    }
                },
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(workflow = %id, error = %e, "escalation failed; nothing changed")
                }
            }
        }
        moved
    }

    /// Starts a background job running [`MemoryEngine::run_escalations`] every
    /// `period`; abort the returned handle to stop it. Needs a Tokio runtime.
    pub fn spawn_escalations(
        self: &Arc<Self>,
        period: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // Stop once the engine is gone.
                let Some(engine) = engine.upgrade() else {
                    break;
                };
                let run = engine.clone();
                let moved = match tokio::task::spawn_blocking(move || run.run_escalations()).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::error!(engine = %engine.info.name, error = %e, "escalation run failed");
                        0
                    }
                };
                if moved > 0 {
                    tracing::info!(engine = %engine.info.name, moved, "escalations ran");
                }
            }
        })
    }
}
