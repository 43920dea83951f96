//! Workflow and task lists.

use super::*;

impl AlfrescoEngine {
    /// Tasks matching a `where` clause, each with its local and process variables (the
    /// list carries them when asked, which saves one request per task).
    pub(super) async fn tasks_where(
        &self,
        cx: &CallContext,
        clause: String,
    ) -> Result<Vec<wire::Task>> {
        let clause = match clause.strip_suffix(')') {
            Some(head) => {
                format!("{head} AND includeTaskVariables=true AND includeProcessVariables=true)")
            }
            None => clause,
        };
        self.c()
            .list_all(
                cx,
                "tasks",
                self.c().wf(&["tasks"])?,
                &vec![("where", clause)],
            )
            .await
    }

    pub(super) async fn document_process_ids(
        &self,
        cx: &CallContext,
        doc: &str,
    ) -> Result<Vec<String>> {
        let uuid = convert::node_uuid(doc)?;
        let data: wire::LegacyInstances = self
            .c()
            .get(
                cx,
                "document_workflows",
                self.c().legacy_node_workflows(&uuid)?,
                &Vec::new(),
            )
            .await?;
        data.data
            .into_iter()
            .map(|i| convert::to_native_id(&i.id))
            .collect()
    }

    pub(super) async fn workflow_by_id(
        &self,
        cx: &CallContext,
        id: &str,
    ) -> Result<WorkflowInstance> {
        let native = convert::to_native_id(id)?;
        let p = self.get_process(cx, &native).await?;
        let info = self.process_info(cx, &p).await?;
        if !self.may_see_process(cx, &p, &info).await? {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see workflow {id}",
                cx.user
            )));
        }
        self.instance_of(cx, &p).await
    }

    pub(super) async fn list_workflows(
        &self,
        cx: &CallContext,
        q: WorkflowQuery,
    ) -> Result<Page<WorkflowInstance>> {
        let procs: Vec<wire::Process> = match &q.document {
            Some(doc) => {
                let ids = self.document_process_ids(cx, doc).await?;
                let mut out = Vec::new();
                for pid in ids {
                    match self.get_process(cx, &pid).await {
                        Ok(p) => out.push(p),
                        Err(e)
                            if matches!(e.kind(), ErrorKind::Forbidden | ErrorKind::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
                out
            }
            None => {
                let mut clause = vec![format!(
                    "status='{}'",
                    if q.running_only { "active" } else { "any" }
                )];
                if let Some(m) = &q.model_name {
                    clause.push(format!("processDefinitionKey='{}'", sq(m)));
                }
                if let (Some(i), true) = (&q.initiator, self.c().mode().forwards_caller()) {
                    clause.push(format!("startUserId='{}'", sq(i)));
                }
                self.c()
                    .list_all(
                        cx,
                        "workflows",
                        self.c().wf(&["processes"])?,
                        &vec![
                            ("where", format!("({})", clause.join(" AND "))),
                            ("orderBy", "startedAt ASC".into()),
                        ],
                    )
                    .await?
            }
        };
        let mut keep = Vec::new();
        for p in procs {
            let info = self.process_info(cx, &p).await?;
            if q.running_only && info.state != WorkflowState::Running {
                continue;
            }
            if q.model_name.as_ref().is_some_and(|m| *m != info.key) {
                continue;
            }
            if q.initiator
                .as_ref()
                .is_some_and(|i| Some(i) != info.initiator.as_ref())
            {
                continue;
            }
            if !self.may_see_process(cx, &p, &info).await? {
                continue;
            }
            keep.push((info, p));
        }
        // Sorted on what the process list says, so that only the page is read further.
        keep.sort_by(|a, b| {
            flowgate_core::order::workflow_keys(q.sort.as_ref(), &sort_keys(&a.0), &sort_keys(&b.0))
        });
        let total = keep.len();
        let page: Vec<wire::Process> = keep
            .into_iter()
            .skip(q.page.offset)
            .take(q.page.limit)
            .map(|(_, p)| p)
            .collect();
        let items = stream::iter(page)
            .map(|p| async move { self.instance_of(cx, &p).await })
            .buffered(FAN_OUT)
            .try_collect()
            .await?;
        Ok(Page { items, total })
    }

    pub(super) async fn list_tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        let status = if q.open_only { "active" } else { "any" };
        let model = q
            .model_name
            .as_ref()
            .map(|m| format!(" AND processDefinitionKey='{}'", sq(m)))
            .unwrap_or_default();
        let mut raws: Vec<wire::Task> = Vec::new();
        if let Some(wid) = &q.workflow_id {
            let native = match convert::to_native_id(wid) {
                Ok(n) => n,
                Err(_) => return Ok(Page::empty()),
            };
            match self.process_tasks(cx, &native, status).await {
                Ok(t) => raws = t,
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Forbidden) => {
                    return Ok(Page::empty())
                }
                Err(e) => return Err(e),
            }
        } else if let Some(doc) = &q.document {
            let pids = self.document_process_ids(cx, doc).await?;
            let lists: Vec<Vec<wire::Task>> = stream::iter(pids)
                .map(|pid| async move {
                    match self.process_tasks(cx, &pid, status).await {
                        Ok(t) => Ok(t),
                        Err(e)
                            if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Forbidden) =>
                        {
                            Ok(Vec::new())
                        }
                        Err(e) => Err(e),
                    }
                })
                .buffered(FAN_OUT)
                .try_collect()
                .await?;
            raws.extend(lists.into_iter().flatten());
        } else if let Some(actor) = &q.actor {
            let u = sq(&actor.user);
            let mut clauses = vec![format!("(status='{status}' AND assignee='{u}'{model})")];
            if q.open_only {
                clauses.push(format!("(status='active' AND candidateUser='{u}'{model})"));
                for g in &actor.groups {
                    clauses.push(format!(
                        "(status='active' AND candidateGroup='{}'{model})",
                        sq(&convert::alf_group(g))
                    ));
                }
            }
            if let Some(svc) = self.c().service_user() {
                // Tasks of the initiator are assigned to the service account in Alfresco.
                if svc != actor.user {
                    clauses.push(format!(
                        "(status='{status}' AND assignee='{}' AND processBusinessKey MATCHES('flowgate:%:{u}'){model})",
                        sq(svc)
                    ));
                }
            }
            // Alfresco has no OR: the clauses are independent lists, read concurrently.
            let lists: Vec<Vec<wire::Task>> = stream::iter(clauses)
                .map(|c| self.tasks_where(cx, c))
                .buffered(FAN_OUT)
                .try_collect()
                .await?;
            raws.extend(lists.into_iter().flatten());
        } else {
            raws = self
                .tasks_where(cx, format!("(status='{status}'{model})"))
                .await?;
        }
        let mut seen = std::collections::HashSet::new();
        raws.retain(|t| seen.insert(t.id.clone()));
        let mut tasks = self.build_tasks(cx, raws).await?;
        tasks.retain(|t| {
            (!q.open_only || t.state == TaskState::Opened)
                && q.model_name
                    .as_ref()
                    .is_none_or(|m| t.workflow_model_name.as_ref() == Some(m))
                && q.document.as_ref().is_none_or(|d| {
                    let d = convert::node_uuid(d).unwrap_or_default();
                    t.target_documents.contains(&d)
                })
                && q.actor.as_ref().is_none_or(|a| {
                    t.actors.iter().chain(t.delegated_actors.iter()).any(|x| {
                        a.matches(x)
                            || x.strip_prefix("group:").is_some_and(|g| {
                                a.groups
                                    .iter()
                                    .any(|mine| convert::alf_group(mine) == convert::alf_group(g))
                            })
                    })
                })
                && self.may_see_task(cx, t)
        });
        Ok(q.sorted_page(tasks))
    }
}

/// What a process is sorted on, from its list entry.
fn sort_keys(i: &ProcessInfo) -> flowgate_core::order::WorkflowKeys<'_> {
    flowgate_core::order::WorkflowKeys {
        id: &i.id,
        name: &i.key,
        title: &i.title,
        created: i.created,
    }
}
