//! Process definitions, forms, models and graphs, and repository documents.

use super::*;

impl AlfrescoEngine {
    pub(super) async fn latest_definition(
        &self,
        cx: &CallContext,
        key: &str,
    ) -> Result<wire::ProcessDefinition> {
        let q: Query = vec![
            ("where", format!("(key='{}')", sq(key))),
            ("orderBy", "version DESC".into()),
            ("maxItems", "1".into()),
        ];
        let page: wire::List<wire::ProcessDefinition> = self
            .c()
            .get(cx, "model", self.c().wf(&["process-definitions"])?, &q)
            .await?;
        page.list
            .into_entries()
            .into_iter()
            .next()
            .filter(|d| d.key() == key)
            .ok_or_else(|| EngineError::not_found(format!("no workflow model named '{key}'")))
    }

    pub(super) async fn definition(
        &self,
        cx: &CallContext,
        id: &str,
    ) -> Result<wire::ProcessDefinition> {
        if let Some(d) = self.inner.defs.lock().get(id) {
            return Ok(d.clone());
        }
        let d: wire::ProcessDefinition = self
            .c()
            .entry(
                cx,
                "definition",
                self.c().wf(&["process-definitions", id])?,
                &Vec::new(),
            )
            .await?;
        self.inner.defs.lock().insert(id.to_owned(), d.clone());
        Ok(d)
    }

    pub(super) async fn start_form(
        &self,
        cx: &CallContext,
        def_id: &str,
    ) -> Result<Vec<wire::FormElement>> {
        self.c()
            .sub_list(
                cx,
                "start_form",
                self.c()
                    .wf(&["process-definitions", def_id, "start-form-model"])?,
            )
            .await
    }

    pub(super) async fn task_form(
        &self,
        cx: &CallContext,
        t: &wire::Task,
    ) -> Result<Arc<convert::TaskForm>> {
        let key = t.form_resource_key.as_deref().unwrap_or("");
        if !key.is_empty() {
            if let Some(f) = self.inner.forms.lock().get(key) {
                return Ok(f.clone());
            }
        }
        let f: Vec<wire::FormElement> = self
            .c()
            .sub_list(
                cx,
                "task_form",
                self.c().wf(&["tasks", &t.id, "task-form-model"])?,
            )
            .await?;
        let f = Arc::new(convert::TaskForm::new(f));
        if !key.is_empty() {
            self.inner.forms.lock().insert(key.to_owned(), f.clone());
        }
        Ok(f)
    }

    pub(super) async fn list_models(&self, cx: &CallContext) -> Result<Vec<WorkflowModel>> {
        let defs: Vec<wire::ProcessDefinition> = self
            .c()
            .list_all(
                cx,
                "models",
                self.c().wf(&["process-definitions"])?,
                &vec![("orderBy", "key ASC".into())],
            )
            .await?;
        // Every version is listed: keep the highest per key.
        let mut latest: BTreeMap<String, wire::ProcessDefinition> = BTreeMap::new();
        for d in defs {
            match latest.get(d.key()) {
                Some(cur) if cur.version() >= d.version() => {}
                _ => {
                    latest.insert(d.key().to_owned(), d);
                }
            }
        }
        let mut models: Vec<WorkflowModel> = stream::iter(latest.into_values())
            .map(|d| async move {
                let form = self.start_form(cx, &d.id).await?;
                Ok::<_, EngineError>(convert::model(&d, &form))
            })
            .buffered(FAN_OUT)
            .try_collect()
            .await?;
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }

    pub(super) async fn model_named(&self, cx: &CallContext, name: &str) -> Result<WorkflowModel> {
        let d = self.latest_definition(cx, name).await?;
        let form = self.start_form(cx, &d.id).await?;
        Ok(convert::model(&d, &form))
    }

    pub(super) async fn graph_of_model(&self, cx: &CallContext, name: &str) -> Result<Graph> {
        let d = self.latest_definition(cx, name).await?;
        if let Some(g) = convert::builtin_graph(d.key()) {
            return Ok(g);
        }
        // A custom definition: learn its shape from the activities of a recent instance.
        let q: Query = vec![
            (
                "where",
                format!("(status='any' AND processDefinitionKey='{}')", sq(d.key())),
            ),
            ("maxItems", "1".into()),
        ];
        let page: wire::List<wire::Process> = self
            .c()
            .get(cx, "model_graph", self.c().wf(&["processes"])?, &q)
            .await?;
        let Some(p) = page.list.into_entries().into_iter().next() else {
            return Ok(Graph::default());
        };
        let acts: Vec<wire::Activity> = self
            .c()
            .sub_list(
                cx,
                "model_graph",
                self.c().wf(&["processes", &p.id, "activities"])?,
            )
            .await?;
        Ok(convert::graph_from_activities(&acts))
    }

    pub(super) async fn graph_of_workflow(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let native = convert::to_native_id(id)?;
        let p = self.get_process(cx, &native).await?;
        let info = self.process_info(cx, &p).await?;
        if !self.may_see_process(cx, &p, &info).await? {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see workflow {id}",
                cx.user
            )));
        }
        // Activities are sliced silently at maxItems: keep reading while pages are full.
        let mut acts: Vec<wire::Activity> = Vec::new();
        let page = 1000usize;
        let mut pages = 0usize;
        loop {
            pages += 1;
            if pages > self.c().max_pages.max(1) {
                return Err(crate::client::endless("workflow_graph", self.c().max_pages));
            }
            let q: Query = vec![
                ("skipCount", acts.len().to_string()),
                ("maxItems", page.to_string()),
            ];
            let l: wire::List<wire::Activity> = self
                .c()
                .get(
                    cx,
                    "workflow_graph",
                    self.c().wf(&["processes", &native, "activities"])?,
                    &q,
                )
                .await?;
            let entries = l.list.into_entries();
            let n = entries.len();
            acts.extend(entries);
            if n < page || acts.len() >= self.c().max_scan {
                break;
            }
        }
        let g = convert::builtin_graph(&info.key)
            .unwrap_or_else(|| convert::graph_from_activities(&acts));
        Ok(convert::mark_graph(g, &acts, info.state))
    }

    pub(super) async fn find_document(
        &self,
        cx: &CallContext,
        loc: &DocLocator,
    ) -> Result<Document> {
        let node: wire::Node = match loc {
            DocLocator::Id(id) => {
                let uuid = convert::node_uuid(id)?;
                self.c()
                    .entry(
                        cx,
                        "document",
                        self.c().core(&["nodes", &uuid])?,
                        &vec![("include", "path".into())],
                    )
                    .await?
            }
            DocLocator::Path(p) => {
                let rel = p.strip_prefix("/Company Home").unwrap_or(p);
                // Validate the whole path (no dot segments, control characters, '//').
                self.c()
                    .up
                    .url_with_path(&["x"], if rel.is_empty() { "/" } else { rel })?;
                let rel = rel.trim_start_matches('/').to_owned();
                self.c()
                    .entry(
                        cx,
                        "document",
                        self.c().core(&["nodes", "-root-"])?,
                        &vec![("relativePath", rel), ("include", "path".into())],
                    )
                    .await?
            }
        };
        if node.is_folder {
            return Err(EngineError::bad_request(format!(
                "'{}' is a folder, not a document",
                node.name
            )));
        }
        let path = node.path.as_ref().map(|p| {
            let parent = p.name.strip_prefix("/Company Home").unwrap_or(&p.name);
            format!("{}/{}", parent.trim_end_matches('/'), node.name)
        });
        Ok(Document {
            id: node.id,
            path,
            title: Some(node.name),
            doc_type: node.node_type,
            state: None,
        })
    }
}
