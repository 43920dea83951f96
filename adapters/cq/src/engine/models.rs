//! Workflow models and their graphs, instance graphs, and repository documents.

use super::*;

impl CqEngine {
    pub(super) async fn load_model(&self, cx: &CallContext, name: &str) -> Result<Arc<ModelInfo>> {
        if let Some(m) = self.models.lock().get(name) {
            return Ok(m.clone());
        }
        if name.is_empty() || name.starts_with('/') {
            return Err(EngineError::not_found(format!(
                "unknown workflow model '{name}'"
            )));
        }
        let profile = self.config.profile;
        let runtime = profile.model_id(name);
        let doc: ModelDoc = match self
            .client
            .get_json(cx, "get_model", &runtime, ".json", &[])
            .await
        {
            Ok(d) => d,
            // Very old CQ 5 servers only render the JCR dump of the model page.
            Err(EngineError::NotFound(_)) if !profile.uses_var() => {
                let page = runtime.trim_end_matches(MODEL_NODE_SUFFIX);
                self.client
                    .get_json(cx, "get_model", page, ".tidy.-1.json", &[])
                    .await
                    .map_err(|e| not_found_as(e, format!("unknown workflow model '{name}'")))?
            }
            Err(e) => return Err(not_found_as(e, format!("unknown workflow model '{name}'"))),
        };
        let info = Arc::new(ModelInfo::from_doc(name, doc)?);
        if info.deleted {
            return Err(EngineError::not_found(format!(
                "workflow model '{name}' was deleted"
            )));
        }
        self.models.lock().insert(name.to_owned(), info.clone());
        Ok(info)
    }

    pub(super) async fn model_names(&self, cx: &CallContext) -> Result<Vec<String>> {
        let rows: Vec<UriRow> = self
            .client
            .get_json(cx, "list_models", "/etc/workflow/models", ".json", &[])
            .await?;
        let mut names: Vec<String> = rows.iter().filter_map(|r| model_name_of(&r.uri)).collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    pub(super) async fn list_models(&self, cx: &CallContext) -> Result<Vec<WorkflowModel>> {
        let names = self.model_names(cx).await?;
        let loaded: Vec<Option<WorkflowModel>> = stream::iter(names)
            .map(|n| async move {
                match self.load_model(cx, &n).await {
                    Ok(m) => Ok(Some(m.to_model())),
                    // Deleted models answer 200 with a flag; listed models may vanish.
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffered(self.config.scan_concurrency.max(1))
            .try_collect()
            .await?;
        Ok(loaded.into_iter().flatten().collect())
    }

    pub(super) async fn model_named(&self, cx: &CallContext, name: &str) -> Result<WorkflowModel> {
        let name = Self::model_name_arg(name);
        Ok(self.load_model(cx, &name).await?.to_model())
    }

    pub(super) async fn graph_of_model(&self, cx: &CallContext, name: &str) -> Result<Graph> {
        let name = Self::model_name_arg(name);
        Ok(self
            .load_model(cx, &name)
            .await?
            .graph(&[], NodeState::Validated))
    }

    pub(super) async fn graph_of_workflow(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let path = ids::workflow_path(id, self.root())?;
        let doc = self.instance_doc(cx, &path).await?;
        if !self.may_see_instance(cx, &doc).await? {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see workflow {id}",
                cx.user
            )));
        }
        let model = self.instance_model(cx, &doc).await?;
        let active: Vec<String> = doc
            .work_items
            .iter()
            .filter_map(|w| w.node.clone().or_else(|| ids::node_of_item(&w.id, &doc.id)))
            .collect();
        let rest = if convert::workflow_state(&doc.state) == WorkflowState::Canceled {
            NodeState::Canceled
        } else {
            NodeState::Ready
        };
        Ok(model.graph(&active, rest))
    }

    pub(super) async fn find_document(
        &self,
        cx: &CallContext,
        loc: &DocLocator,
    ) -> Result<Document> {
        let path = match loc {
            DocLocator::Path(p) => {
                ids::check_payload(p)?;
                p.clone()
            }
            DocLocator::Id(id) => ids::document_path(id)?,
        };
        let mounted = self.config.mounts.iter().any(|m| {
            let m = m.trim_end_matches('/');
            path == m || path.starts_with(&format!("{m}/"))
        });
        if !mounted {
            return Err(EngineError::not_found(format!("no document at {path}")));
        }
        // `<path>/jcr:content.json` also works for assets whose names contain a dot.
        let content: Map<String, Value> = self
            .client
            .get_json(
                cx,
                "get_document",
                &format!("{path}/jcr:content"),
                ".json",
                &[],
            )
            .await
            .map_err(|e| not_found_as(e, format!("no document at {path}")))?;
        let text = |k: &str| content.get(k).and_then(Value::as_str).map(str::to_owned);
        let doc_type = text("jcr:primaryType").map(|t| match t.as_str() {
            "cq:PageContent" => "cq:Page".to_owned(),
            "dam:AssetContent" => "dam:Asset".to_owned(),
            _ => t,
        });
        Ok(Document {
            id: ids::encode(&path),
            path: Some(path),
            title: text("jcr:title").or_else(|| text("dc:title")),
            doc_type,
            state: None,
        })
    }
}
