//! Workflow instances: start on the model's engine, read, cancel, the instance list
//! (one engine for a document query, a fan-out otherwise), and documents.

use flowgate_core::{
    CallContext, DocLocator, Document, EngineError, Graph, Page, Result, StartWorkflow,
    WorkflowInstance, WorkflowQuery,
};

use super::fanout::paged;
use super::{call, scoped, EngineEntry, Fanned, Router, PREFIX_SEP};

impl Router {
    /// Starts an instance on the engine that has the model. Documents prefixed for an
    /// engine pick that engine for a plain model name; a document of another engine than
    /// the model's is a 400.
    pub async fn start(
        &self,
        cx: &CallContext,
        mut req: StartWorkflow,
    ) -> Result<WorkflowInstance> {
        self.limits.check_variables(&req.variables)?;
        let mut doc_engine: Option<&EngineEntry> = None;
        for d in &req.documents {
            if let Some((p, _)) = d.split_once(PREFIX_SEP) {
                if !p.is_empty() {
                    let (e, _) = self.resolve(d)?;
                    doc_engine.get_or_insert(e);
                }
            }
        }
        let (_, native_model) = self.model_target(&req.model)?;
        let native_model = native_model.to_owned();
        let (e, _) = self.model_on(cx, &req.model, doc_engine).await?;
        let mut docs = Vec::with_capacity(req.documents.len());
        for d in &req.documents {
            let native = match d.split_once(PREFIX_SEP) {
                Some((p, _)) if !p.is_empty() => {
                    let (de, native) = self.resolve(d)?;
                    if de.name != e.name {
                        return Err(EngineError::bad_request(format!(
                            "Document '{d}' belongs to engine '{}', workflow model '{}' to engine '{}'",
                            de.name, req.model, e.name
                        )));
                    }
                    native.to_owned()
                }
                // A plain reference goes to the model's engine as given: it may be in a
                // form only that engine understands (`workspace://SpacesStore/<uuid>`), and
                // the adapter checks it before building any URL from it.
                _ => d.clone(),
            };
            docs.push(native);
        }
        req.documents = docs;
        req.model = native_model;
        let cx = scoped(e, cx);
        let w = call(e, "start", &cx, e.engine.start(&cx, req)).await?;
        Ok(Self::out_workflow(e, w))
    }

    /// One instance.
    pub async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance> {
        let (e, native) = self.resolve(id)?;
        let cx = scoped(e, cx);
        let w = call(e, "workflow", &cx, e.engine.workflow(&cx, native)).await?;
        Ok(Self::out_workflow(e, w))
    }

    /// The graph of an instance.
    pub async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let (e, native) = self.resolve(id)?;
        if !e.engine.info().capabilities.workflow_graph {
            return Err(EngineError::unsupported("workflow_graph", &e.name));
        }
        let cx = scoped(e, cx);
        call(
            e,
            "workflow_graph",
            &cx,
            e.engine.workflow_graph(&cx, native),
        )
        .await
    }

    /// Cancels an instance.
    pub async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        let (e, native) = self.resolve(id)?;
        let cx = scoped(e, cx);
        call(e, "cancel", &cx, e.engine.cancel(&cx, native)).await
    }

    /// The engines a query by model name concerns, and the name each one knows.
    pub(super) fn model_scope(
        &self,
        model: Option<&str>,
    ) -> Result<(Vec<&EngineEntry>, Option<String>)> {
        match model {
            None => Ok((self.engines.iter().collect(), None)),
            Some(m) => match self.model_target(m)? {
                (Some(e), native) => Ok((vec![e], Some(native.to_owned()))),
                (None, native) => Ok((self.engines.iter().collect(), Some(native.to_owned()))),
            },
        }
    }

    /// Instances matching `q`: one engine for a document query, every concerned engine
    /// otherwise (merged in the query's order, then paged here).
    pub async fn workflows(
        &self,
        cx: &CallContext,
        mut q: WorkflowQuery,
    ) -> Result<Fanned<Page<WorkflowInstance>>> {
        q.page.limit = q.page.limit.min(self.limits.max_page_size);
        if let Some(doc) = q.document.take() {
            let (e, loc) = self.resolve_document(&DocLocator::Id(doc))?;
            let DocLocator::Id(native) = loc else {
                return Ok(Fanned::whole(Page::empty()));
            };
            q.document = Some(native);
            let cx = scoped(e, cx);
            let p = call(e, "workflows", &cx, e.engine.workflows(&cx, q)).await?;
            return Ok(Fanned::whole(p.map(|w| Self::out_workflow(e, w))));
        }
        let (engines, model) = self.model_scope(q.model_name.as_deref())?;
        q.model_name = model;
        let sort = q.sort;
        paged(
            &engines,
            cx,
            q,
            |e, cx, q| {
                Box::pin(async move {
                    let p = call(e, "workflows", cx, e.engine.workflows(cx, q)).await?;
                    Ok(p.map(|w| Self::out_workflow(e, w)))
                })
            },
            |items| flowgate_core::order::sort_workflows(items, sort.as_ref()),
        )
        .await
    }

    /// Resolves a document reference on the engine that owns it; the document's id is
    /// returned as clients use it (with the engine prefix).
    pub async fn document(&self, cx: &CallContext, loc: &DocLocator) -> Result<Document> {
        let (e, native) = self.resolve_document(loc)?;
        if matches!(native, DocLocator::Path(_)) && !e.engine.info().capabilities.document_paths {
            return Err(EngineError::unsupported("document_by_path", &e.name));
        }
        let cx = scoped(e, cx);
        let mut d = call(e, "document", &cx, e.engine.document(&cx, &native)).await?;
        d.id = Self::outward(e, &d.id);
        Ok(d)
    }
}
