//! Engine selection: which engine owns an id, a document or a model, and fan-out of
//! queries that span engines.
//!
//! Ids leaving the gateway carry their engine: the default engine's ids are passed
//! through unchanged, every other engine's ids become `<prefix>~<native id>`. Every engine
//! call runs under the request deadline and inside an `engine.call` span.

use std::future::Future;
use std::sync::Arc;

use flowgate_core::{
    CallContext, Completion, DocLocator, Document, EngineError, Graph, Page, PageRequest, Result,
    StartWorkflow, Task, TaskQuery, WorkflowEngine, WorkflowInstance, WorkflowModel, WorkflowQuery,
};
use futures::future::join_all;
use tracing::Instrument;

/// One configured engine.
#[derive(Debug, Clone)]
pub struct EngineEntry {
    /// Configured name.
    pub name: String,
    /// Id prefix; `None` for the default engine.
    pub prefix: Option<String>,
    /// Document path mounts (the default engine implicitly has `/`).
    pub mounts: Vec<String>,
    /// The engine.
    pub engine: Arc<dyn WorkflowEngine>,
}

/// Separator between an engine prefix and a native id.
pub const PREFIX_SEP: char = '~';

/// Picks engines for ids, documents and models.
#[derive(Debug)]
pub struct Router {
    engines: Vec<EngineEntry>,
    default: usize,
}

/// Runs one engine call under the caller's deadline, in an `engine.call` span.
async fn call<T>(
    e: &EngineEntry,
    op: &'static str,
    cx: &CallContext,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = tracing::debug_span!("engine.call", engine = %e.name, op);
    let fut = fut.instrument(span);
    match cx.remaining() {
        None => fut.await,
        Some(left) => tokio::time::timeout(left, fut).await.unwrap_or_else(|_| {
            Err(EngineError::Timeout(format!(
                "engine '{}' did not answer '{op}' in time",
                e.name
            )))
        }),
    }
}

impl Router {
    /// A router over `engines`; `default` indexes the default engine.
    ///
    /// # Panics
    /// Never: an empty list or an out-of-range default is rejected with `Err`.
    pub fn new(engines: Vec<EngineEntry>, default: usize) -> std::result::Result<Self, String> {
        if default >= engines.len() {
            return Err("no default engine configured".into());
        }
        Ok(Self { engines, default })
    }

    /// The configured engines.
    pub fn engines(&self) -> &[EngineEntry] {
        &self.engines
    }

    fn default_entry(&self) -> &EngineEntry {
        &self.engines[self.default]
    }

    /// The engine owning `id` and the engine's native id.
    pub fn resolve<'a>(&self, id: &'a str) -> (&EngineEntry, &'a str) {
        if let Some((prefix, rest)) = id.split_once(PREFIX_SEP) {
            if let Some(e) = self
                .engines
                .iter()
                .find(|e| e.prefix.as_deref() == Some(prefix))
            {
                return (e, rest);
            }
        }
        (self.default_entry(), id)
    }

    /// The engine responsible for a document and the document reference it understands.
    pub fn resolve_document(&self, loc: &DocLocator) -> (&EngineEntry, DocLocator) {
        match loc {
            DocLocator::Id(id) => {
                let (e, native) = self.resolve(id);
                (e, DocLocator::Id(native.to_owned()))
            }
            DocLocator::Path(p) => {
                let best = self
                    .engines
                    .iter()
                    .flat_map(|e| e.mounts.iter().map(move |m| (e, m)))
                    .filter(|(_, m)| mount_matches(m, p))
                    .max_by_key(|(_, m)| m.len())
                    .map(|(e, _)| e);
                (best.unwrap_or(self.default_entry()), loc.clone())
            }
        }
    }

    fn outward(e: &EngineEntry, id: &str) -> String {
        match &e.prefix {
            Some(p) => format!("{p}{PREFIX_SEP}{id}"),
            None => id.to_owned(),
        }
    }

    fn out_workflow(e: &EngineEntry, mut w: WorkflowInstance) -> WorkflowInstance {
        w.id = Self::outward(e, &w.id);
        w
    }

    fn out_task(e: &EngineEntry, mut t: Task) -> Task {
        t.id = Self::outward(e, &t.id);
        t.workflow_id = t.workflow_id.map(|w| Self::outward(e, &w));
        t
    }

    /// Every model of every engine, sorted by name.
    pub async fn models(&self, cx: &CallContext) -> Result<Vec<WorkflowModel>> {
        let results = join_all(
            self.engines
                .iter()
                .map(|e| call(e, "models", cx, e.engine.models(cx))),
        )
        .await;
        let mut all = merge(&self.engines, results)?
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// The engine that has model `name`, and the model. Default engine first.
    pub async fn model(
        &self,
        cx: &CallContext,
        name: &str,
    ) -> Result<(&EngineEntry, WorkflowModel)> {
        let order = std::iter::once(self.default)
            .chain((0..self.engines.len()).filter(|i| *i != self.default));
        let mut first_err = None;
        for i in order {
            let e = &self.engines[i];
            match call(e, "model", cx, e.engine.model(cx, name)).await {
                Ok(m) => return Ok((e, m)),
                Err(err) if err.kind() == flowgate_core::ErrorKind::NotFound => {
                    first_err.get_or_insert(err);
                }
                Err(err) => return Err(err),
            }
        }
        Err(first_err.unwrap_or_else(|| EngineError::not_found(name)))
    }

    /// The graph of model `name`.
    pub async fn model_graph(&self, cx: &CallContext, name: &str) -> Result<Graph> {
        let (e, m) = self.model(cx, name).await?;
        if !e.engine.info().capabilities.model_graph {
            return Err(EngineError::unsupported("model_graph", &e.name));
        }
        call(e, "model_graph", cx, e.engine.model_graph(cx, &m.name)).await
    }

    /// Starts an instance on the engine that has the model.
    pub async fn start(&self, cx: &CallContext, req: StartWorkflow) -> Result<WorkflowInstance> {
        let (e, _) = self.model(cx, &req.model).await?;
        let w = call(e, "start", cx, e.engine.start(cx, req)).await?;
        Ok(Self::out_workflow(e, w))
    }

    /// One instance.
    pub async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance> {
        let (e, native) = self.resolve(id);
        let w = call(e, "workflow", cx, e.engine.workflow(cx, native)).await?;
        Ok(Self::out_workflow(e, w))
    }

    /// The graph of an instance.
    pub async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let (e, native) = self.resolve(id);
        if !e.engine.info().capabilities.workflow_graph {
            return Err(EngineError::unsupported("workflow_graph", &e.name));
        }
        call(e, "workflow_graph", cx, e.engine.workflow_graph(cx, native)).await
    }

    /// Cancels an instance.
    pub async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        let (e, native) = self.resolve(id);
        call(e, "cancel", cx, e.engine.cancel(cx, native)).await
    }

    /// Instances matching `q`: one engine for a document query, every engine otherwise.
    pub async fn workflows(
        &self,
        cx: &CallContext,
        mut q: WorkflowQuery,
    ) -> Result<Page<WorkflowInstance>> {
        if let Some(doc) = q.document.take() {
            let (e, loc) = self.resolve_document(&DocLocator::Id(doc));
            let DocLocator::Id(native) = loc else {
                return Ok(Page::empty());
            };
            q.document = Some(native);
            let p = call(e, "workflows", cx, e.engine.workflows(cx, q)).await?;
            return Ok(p.map(|w| Self::out_workflow(e, w)));
        }
        let page = q.page;
        let results = join_all(self.engines.iter().map(|e| {
            let mut q = q.clone();
            q.page = widen(page);
            async move {
                call(e, "workflows", cx, e.engine.workflows(cx, q))
                    .await
                    .map(|p| p.map(|w| Self::out_workflow(e, w)))
            }
        }))
        .await;
        let pages = merge(&self.engines, results)?;
        let total = pages.iter().map(|p| p.total).sum();
        let mut items: Vec<_> = pages.into_iter().flat_map(|p| p.items).collect();
        items.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(Page {
            items: items
                .into_iter()
                .skip(page.offset)
                .take(page.limit)
                .collect(),
            total,
        })
    }

    /// One task.
    pub async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        let (e, native) = self.resolve(id);
        let t = call(e, "task", cx, e.engine.task(cx, native)).await?;
        Ok(Self::out_task(e, t))
    }

    /// Tasks matching `q`: the owning engine for a workflow or document filter, every
    /// engine otherwise (merged by due date, creation time, id, then paged).
    pub async fn tasks(&self, cx: &CallContext, mut q: TaskQuery) -> Result<Page<Task>> {
        if let Some(wf) = q.workflow_id.take() {
            let (e, native) = self.resolve(&wf);
            q.workflow_id = Some(native.to_owned());
            if let Some(doc) = q.document.take() {
                let (_, loc) = self.resolve_document(&DocLocator::Id(doc));
                if let DocLocator::Id(d) = loc {
                    q.document = Some(d);
                }
            }
            let p = call(e, "tasks", cx, e.engine.tasks(cx, q)).await?;
            return Ok(p.map(|t| Self::out_task(e, t)));
        }
        if let Some(doc) = q.document.take() {
            let (e, loc) = self.resolve_document(&DocLocator::Id(doc));
            if let DocLocator::Id(d) = loc {
                q.document = Some(d);
            }
            let p = call(e, "tasks", cx, e.engine.tasks(cx, q)).await?;
            return Ok(p.map(|t| Self::out_task(e, t)));
        }
        if self.engines.len() == 1 {
            let e = self.default_entry();
            let p = call(e, "tasks", cx, e.engine.tasks(cx, q)).await?;
            return Ok(p.map(|t| Self::out_task(e, t)));
        }
        let page = q.page;
        let results = join_all(self.engines.iter().map(|e| {
            let mut q = q.clone();
            q.page = widen(page);
            async move {
                call(e, "tasks", cx, e.engine.tasks(cx, q))
                    .await
                    .map(|p| p.map(|t| Self::out_task(e, t)))
            }
        }))
        .await;
        let pages = merge(&self.engines, results)?;
        let total = pages.iter().map(|p| p.total).sum();
        let mut items: Vec<_> = pages.into_iter().flat_map(|p| p.items).collect();
        items.sort_by(|a, b| {
            let due = match (a.due_date, b.due_date) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            due.then_with(|| a.created.cmp(&b.created))
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(Page {
            items: items
                .into_iter()
                .skip(page.offset)
                .take(page.limit)
                .collect(),
            total,
        })
    }

    /// Completes a task.
    pub async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        let (e, native) = self.resolve(id);
        let t = call(e, "complete", cx, e.engine.complete(cx, native, c)).await?;
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
        let (e, native) = self.resolve(id);
        if !e.engine.info().capabilities.reassign {
            return Err(EngineError::unsupported("reassign", &e.name));
        }
        call(
            e,
            "reassign",
            cx,
            e.engine.reassign(cx, native, actors, comment),
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
        let (e, native) = self.resolve(id);
        if !e.engine.info().capabilities.delegate {
            return Err(EngineError::unsupported("delegate", &e.name));
        }
        call(
            e,
            "delegate",
            cx,
            e.engine.delegate(cx, native, actors, comment),
        )
        .await
    }

    /// Resolves a document reference on the engine that owns it.
    pub async fn document(&self, cx: &CallContext, loc: &DocLocator) -> Result<Document> {
        let (e, native) = self.resolve_document(loc);
        if matches!(native, DocLocator::Path(_)) && !e.engine.info().capabilities.document_paths {
            return Err(EngineError::unsupported("document_by_path", &e.name));
        }
        call(e, "document", cx, e.engine.document(cx, &native)).await
    }
}

/// A page wide enough to merge: every engine returns the first `offset + limit` items.
fn widen(p: PageRequest) -> PageRequest {
    PageRequest::new(0, p.offset.saturating_add(p.limit))
}

/// Keeps the successful results of a fan-out; fails only when every engine failed.
fn merge<T>(engines: &[EngineEntry], results: Vec<Result<T>>) -> Result<Vec<T>> {
    let mut ok = Vec::new();
    let mut first_err = None;
    for (e, r) in engines.iter().zip(results) {
        match r {
            Ok(v) => ok.push(v),
            Err(err) => {
                tracing::warn!(engine = %e.name, error_code = err.kind().code(), error = %err, "engine failed during fan-out; answering with partial results");
                first_err.get_or_insert(err);
            }
        }
    }
    match (ok.is_empty(), first_err) {
        (true, Some(err)) => Err(err),
        _ => Ok(ok),
    }
}

fn mount_matches(mount: &str, path: &str) -> bool {
    let m = mount.trim_end_matches('/');
    m.is_empty()
        || path == m
        || (path.starts_with(m) && path.as_bytes().get(m.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_match_whole_segments() {
        assert!(mount_matches("/", "/a/b"));
        assert!(mount_matches("/alfresco", "/alfresco/x"));
        assert!(mount_matches("/alfresco", "/alfresco"));
        assert!(!mount_matches("/alfresco", "/alfrescox/y"));
    }

    #[test]
    fn widened_page_covers_offset_and_limit() {
        assert_eq!(widen(PageRequest::new(10, 5)), PageRequest::new(0, 15));
        assert_eq!(widen(PageRequest::all()).limit, usize::MAX);
    }
}
