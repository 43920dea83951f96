//! Tasks: one task, the task list (the owning engine for a workflow or document
//! filter, a fan-out otherwise) and the actions on a task.

use flowgate_core::{
    CallContext, Completion, DocLocator, EngineError, ErrorKind, Page, Result, Task, TaskQuery,
};

use super::fanout::paged;
use super::{call, scoped, Fanned, Router};

impl Router {
    /// One task.
    pub async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        let (e, native) = self.resolve(id)?;
        let cx = scoped(e, cx);
        let t = call(e, "task", &cx, e.engine.task(&cx, native)).await?;
        Ok(Self::out_task(e, t))
    }

    /// Tasks matching `q`: the owning engine for a workflow or document filter, every
    /// concerned engine otherwise (merged in the query's order, then paged).
    pub async fn tasks(&self, cx: &CallContext, mut q: TaskQuery) -> Result<Fanned<Page<Task>>> {
        q.page.limit = q.page.limit.min(self.limits.max_page_size);
        if let Some(wf) = q.workflow_id.take() {
            let (e, native) = match self.resolve(&wf) {
                Ok(r) => r,
                // An unknown workflow has no tasks (never a 404 for a filter).
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    return Ok(Fanned::whole(Page::empty()))
                }
                Err(err) => return Err(err),
            };
            q.workflow_id = Some(native.to_owned());
            if let Some(doc) = q.document.take() {
                let (de, loc) = self.resolve_document(&DocLocator::Id(doc))?;
                if de.name != e.name {
                    return Ok(Fanned::whole(Page::empty()));
                }
                if let DocLocator::Id(d) = loc {
                    q.document = Some(d);
                }
            }
            let cx = scoped(e, cx);
            let p = call(e, "tasks", &cx, e.engine.tasks(&cx, q)).await?;
            return Ok(Fanned::whole(p.map(|t| Self::out_task(e, t))));
        }
        if let Some(doc) = q.document.take() {
            let (e, loc) = self.resolve_document(&DocLocator::Id(doc))?;
            if let DocLocator::Id(d) = loc {
                q.document = Some(d);
            }
            let cx = scoped(e, cx);
            let p = call(e, "tasks", &cx, e.engine.tasks(&cx, q)).await?;
            return Ok(Fanned::whole(p.map(|t| Self::out_task(e, t))));
        }
        let (engines, model) = self.model_scope(q.model_name.as_deref())?;
        q.model_name = model;
        if engines.len() == 1 {
            let e = engines[0];
            let cx = scoped(e, cx);
            let p = call(e, "tasks", &cx, e.engine.tasks(&cx, q)).await?;
            return Ok(Fanned::whole(p.map(|t| Self::out_task(e, t))));
        }
        let sort = q.sort;
        paged(
            &engines,
            cx,
            q,
            |e, cx, q| {
                Box::pin(async move {
                    let p = call(e, "tasks", cx, e.engine.tasks(cx, q)).await?;
                    Ok(p.map(|t| Self::out_task(e, t)))
                })
            },
            |items| flowgate_core::order::sort_tasks(items, sort.as_ref()),
        )
        .await
    }

    /// Completes a task.
    pub async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        self.limits.check_variables(&c.variables)?;
        let (e, native) = self.resolve(id)?;
        let cx = scoped(e, cx);
        let t = call(e, "complete", &cx, e.engine.complete(&cx, native, c)).await?;
        Ok(Self::out_task(e, t))
    }

    /// Replaces a task's actors.
    pub async fn reassign(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        self.limits.check_request_actors(&actors)?;
        let (e, native) = self.resolve(id)?;
        if !e.engine.info().capabilities.reassign {
            return Err(EngineError::unsupported("reassign", &e.name));
        }
        let cx = scoped(e, cx);
        call(
            e,
            "reassign",
            &cx,
            e.engine.reassign(&cx, native, actors, comment),
        )
        .await
    }

    /// Adds delegated actors to a task.
    pub async fn delegate(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        self.limits.check_request_actors(&actors)?;
        let (e, native) = self.resolve(id)?;
        if !e.engine.info().capabilities.delegate {
            return Err(EngineError::unsupported("delegate", &e.name));
        }
        let cx = scoped(e, cx);
        call(
            e,
            "delegate",
            &cx,
            e.engine.delegate(&cx, native, actors, comment),
        )
        .await
    }
}
