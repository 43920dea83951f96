//! Who may see an instance or a task (service-account mode; pass-through callers
//! see what CQ shows them).

use super::*;

impl CqEngine {
    /// Who started an instance: the initiator flowgate put into the start metadata
    /// (when CQ renders metadata), else this engine's record of the start, else CQ's
    /// own `initiator` (with a service account, the service account for starts made
    /// through flowgate that the engine no longer remembers).
    pub(super) fn initiator(&self, doc: &InstanceDoc) -> Option<String> {
        convert::meta_initiator(doc)
            .map(str::to_owned)
            .or_else(|| self.ledger.start(&doc.id).map(|s| s.initiator))
            .or_else(|| doc.initiator.clone())
    }

    /// The start id of an instance, from its metadata or this engine's record.
    pub(super) fn start_id(&self, doc: &InstanceDoc) -> Option<String> {
        convert::meta_start_id(doc)
            .map(str::to_owned)
            .or_else(|| self.ledger.start(&doc.id).map(|s| s.start_id))
    }

    /// Who holds an open work item now: `currentAssignee` of the item when CQ renders
    /// it, else that of the caller's inbox row, else the delegatee of the last
    /// delegation made through this engine. `None` leaves the model's participant as
    /// the only actor.
    pub(super) fn assignee(&self, item: &WorkItemDoc, inbox: Option<&str>) -> Option<String> {
        item.current_assignee
            .clone()
            .or_else(|| inbox.map(str::to_owned))
            .or_else(|| self.ledger.delegatee(&item.id))
    }

    /// Whether a restricted caller may see an instance: its initiator, or an assignee of
    /// one of its open items.
    pub(super) async fn may_see_instance(
        &self,
        cx: &CallContext,
        doc: &InstanceDoc,
    ) -> Result<bool> {
        if !self.restricted(cx) || self.initiator(doc).as_deref() == Some(cx.user.as_str()) {
            return Ok(true);
        }
        let model = match self.instance_model(cx, doc).await {
            Ok(m) => Some(m),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        for item in &doc.work_items {
            match self.item_doc(cx, &item.id).await {
                Ok(w) => {
                    // The holder, or the step's participant (who stays an actor).
                    let participant = w
                        .node
                        .as_deref()
                        .or(item.node.as_deref())
                        .and_then(|n| model.as_ref()?.node(n)?.participant.clone());
                    if self
                        .assignee(&w, None)
                        .into_iter()
                        .chain(participant)
                        .any(|a| cx.is_principal(&a))
                    {
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// Whether a restricted caller may see a task.
    pub(super) fn may_see_task(&self, cx: &CallContext, t: &Task) -> bool {
        !self.restricted(cx)
            || t.actors
                .iter()
                .chain(&t.delegated_actors)
                .any(|a| cx.is_principal(a))
            || t.workflow_initiator.as_deref() == Some(cx.user.as_str())
    }
}
