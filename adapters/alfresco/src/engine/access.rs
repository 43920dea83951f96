//! Who may see a task or a process (service-account modes; admins and pass-through
//! callers see what Alfresco shows them).

use super::*;

impl AlfrescoEngine {
    /// Whether the caller may see a process (service-account mode; admins always may).
    pub(super) async fn may_see_process(
        &self,
        cx: &CallContext,
        p: &wire::Process,
        info: &ProcessInfo,
    ) -> Result<bool> {
        if !self.filters(cx) || info.initiator.as_deref() == Some(cx.user.as_str()) {
            return Ok(true);
        }
        for t in self.process_tasks(cx, &p.id, "any").await? {
            let task = self.build_task(cx, t, Some(info), false).await?;
            if self.is_actor(cx, &task) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Actor or delegate: may act on the task.
    pub(super) fn is_actor(&self, cx: &CallContext, t: &Task) -> bool {
        self.names(cx, t.actors.iter().chain(t.delegated_actors.iter()))
    }

    /// Actor, not delegate: may manage (reassign, delegate) the task, as
    /// [`flowgate_core::access::may_manage_task`] says.
    pub(super) fn is_owner(&self, cx: &CallContext, t: &Task) -> bool {
        self.names(cx, t.actors.iter())
    }

    /// Whether one of `principals` designates the caller (Alfresco spells groups
    /// `GROUP_x`).
    pub(super) fn names<'a>(
        &self,
        cx: &CallContext,
        mut principals: impl Iterator<Item = &'a String>,
    ) -> bool {
        principals.any(|a| match a.strip_prefix("group:") {
            Some(g) => cx
                .groups
                .iter()
                .any(|mine| convert::alf_group(mine) == convert::alf_group(g)),
            None => convert::user_of(a) == Some(cx.user.as_str()),
        })
    }

    pub(super) fn may_see_task(&self, cx: &CallContext, t: &Task) -> bool {
        !self.filters(cx)
            || self.is_actor(cx, t)
            || t.workflow_initiator.as_deref() == Some(cx.user.as_str())
    }

    /// Loads a task the caller may see, or fails with NotFound/Forbidden. `fresh`
    /// bypasses the parts cache (before a write, everything is read from Alfresco).
    pub(super) async fn visible_task(
        &self,
        cx: &CallContext,
        id: &str,
        fresh: bool,
    ) -> Result<(wire::Task, Task)> {
        let native = convert::to_native_id(id)?;
        let (raw, task) = self.load_task(cx, &native, fresh).await?;
        if !self.may_see_task(cx, &task) {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see task {id}",
                cx.user
            )));
        }
        Ok((raw, task))
    }
}
