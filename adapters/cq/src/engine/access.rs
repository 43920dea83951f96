//! Who may see an instance or a task (service-account mode; pass-through callers
//! see what CQ shows them).

use super::*;

impl CqEngine {
    /// Whether a restricted caller may see an instance: its initiator, or an assignee of
    /// one of its open items.
    pub(super) async fn may_see_instance(
        &self,
        cx: &CallContext,
        doc: &InstanceDoc,
    ) -> Result<bool> {
        if !self.restricted(cx) || convert::initiator_of(doc).as_deref() == Some(cx.user.as_str()) {
            return Ok(true);
        }
        for item in &doc.work_items {
            match self.item_doc(cx, &item.id).await {
                Ok(w)
                    if w.current_assignee
                        .as_deref()
                        .is_some_and(|a| cx.is_principal(a)) =>
                {
                    return Ok(true)
                }
                Ok(_) => {}
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
