//! Reading workflow instances, one or many.

use super::*;

impl CqEngine {
    /// Reads an instance fresh (and offers it to the cache for later task reads).
    pub(super) async fn instance_doc(&self, cx: &CallContext, path: &str) -> Result<InstanceDoc> {
        Ok(self.instance_arc(cx, path).await?.as_ref().clone())
    }

    /// [`Self::instance_doc`] without the copy.
    pub(super) async fn instance_arc(
        &self,
        cx: &CallContext,
        path: &str,
    ) -> Result<Arc<InstanceDoc>> {
        let g = self.cache.generation();
        let doc: InstanceDoc = self
            .client
            .get_json(cx, "get_workflow", path, ".json", &[])
            .await
            .map_err(|e| {
                not_found_as(
                    e,
                    format!(
                        "Can not get workflow instance with id: {}",
                        ids::encode(path)
                    ),
                )
            })?;
        let doc = Arc::new(doc);
        self.cache
            .put_instance(g, &self.scope(cx), path, doc.clone());
        Ok(doc)
    }

    pub(super) async fn instance_paths(
        &self,
        cx: &CallContext,
        states: Option<&[&str]>,
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let selectors: Vec<String> = match states {
            Some(s) => s.iter().map(|st| format!(".{st}.json")).collect(),
            None => vec![".json".to_owned()],
        };
        // One list per state, read concurrently, kept in state order.
        let parallel = ACTIVE_STATES.len();
        let lists: Vec<Vec<UriRow>> = stream::iter(selectors)
            .map(|sel| async move {
                self.client
                    .get_json(cx, "list_workflows", "/etc/workflow/instances", &sel, &[])
                    .await
            })
            .buffered(parallel)
            .try_collect()
            .await?;
        out.extend(lists.into_iter().flatten().map(|r| r.uri));
        if out.len() > self.config.max_scan {
            tracing::warn!(engine = %self.name(), found = out.len(), cap = self.config.max_scan,
                "instance list truncated; raise max_scan to see more");
            out.truncate(self.config.max_scan);
        }
        Ok(out)
    }

    /// Reads instances concurrently; instances that vanished meanwhile are skipped.
    pub(super) async fn instance_docs(
        &self,
        cx: &CallContext,
        paths: Vec<String>,
    ) -> Result<Vec<InstanceDoc>> {
        let docs: Vec<Option<InstanceDoc>> = stream::iter(paths)
            .map(|p| async move {
                if ids::check_path(&p).is_err() {
                    return Ok(None);
                }
                match self.instance_doc(cx, &p).await {
                    Ok(d) => Ok(Some(d)),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(self.config.scan_concurrency.max(1))
            .try_collect()
            .await?;
        Ok(docs.into_iter().flatten().collect())
    }

    pub(super) async fn model_title(&self, cx: &CallContext, doc: &InstanceDoc) -> Option<String> {
        let name = model_name_of(&doc.model)?;
        self.load_model(cx, &name)
            .await
            .ok()
            .map(|m| m.title.clone())
    }

    pub(super) async fn to_instance(
        &self,
        cx: &CallContext,
        doc: &InstanceDoc,
    ) -> Result<WorkflowInstance> {
        let title = self.model_title(cx, doc).await;
        convert::instance(doc, title.as_deref(), self.initiator(doc))
    }

    /// Reads an instance the caller may act on as initiator (or admin).
    pub(super) async fn owned_instance(
        &self,
        cx: &CallContext,
        id: &str,
        op: &str,
    ) -> Result<(String, InstanceDoc)> {
        let path = ids::workflow_path(id, self.root())?;
        // Always GET before POSTing to an instance: a POST to a missing path would let
        // Sling create a junk node and answer 201.
        let doc = self.instance_doc(cx, &path).await?;
        let initiator = self.initiator(&doc);
        let allowed = match op {
            "cancel" => flowgate_core::access::may_cancel_workflow(cx, initiator.as_deref()),
            _ => initiator.as_deref() == Some(cx.user.as_str()),
        };
        if self.restricted(cx) && !allowed {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot {op} workflow {id}",
                cx.user
            )));
        }
        Ok((path, doc))
    }

    pub(super) async fn workflow_by_id(
        &self,
        cx: &CallContext,
        id: &str,
    ) -> Result<WorkflowInstance> {
        let path = ids::workflow_path(id, self.root())?;
        let doc = self.instance_doc(cx, &path).await?;
        if !self.may_see_instance(cx, &doc).await? {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see workflow {id}",
                cx.user
            )));
        }
        self.to_instance(cx, &doc).await
    }

    pub(super) async fn list_workflows(
        &self,
        cx: &CallContext,
        q: WorkflowQuery,
    ) -> Result<Page<WorkflowInstance>> {
        let states: Option<&[&str]> = if q.running_only {
            Some(&ACTIVE_STATES)
        } else {
            None
        };
        let paths = self.instance_paths(cx, states).await?;
        let doc_filter = match &q.document {
            Some(d) => match ids::document_path(d) {
                Ok(p) => Some(p),
                Err(_) => return Ok(Page::empty()),
            },
            None => None,
        };
        let docs = self.instance_docs(cx, paths).await?;
        let mut out = Vec::new();
        for d in docs {
            let initiator = self.initiator(&d);
            if self.restricted(cx) && initiator.as_deref() != Some(cx.user.as_str()) {
                continue;
            }
            if q.initiator
                .as_ref()
                .is_some_and(|i| initiator.as_ref() != Some(i))
            {
                continue;
            }
            if q.model_name
                .as_ref()
                .is_some_and(|m| model_name_of(&d.model).as_ref() != Some(m))
            {
                continue;
            }
            if doc_filter.is_some() && d.payload != doc_filter {
                continue;
            }
            out.push(self.to_instance(cx, &d).await?);
        }
        Ok(q.sorted_page(out))
    }
}
