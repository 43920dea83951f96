//! Writes: start, cancel, complete, reassign, delegate. Every write drops what the
//! caches hold about its process.

use super::*;

impl AlfrescoEngine {
    /// Updates task `native` of process `pid`; whatever the outcome, the parts cached
    /// for that process are dropped (a failed or timed-out write may still have landed).
    pub(super) async fn put_task(
        &self,
        cx: &CallContext,
        op: &'static str,
        (native, pid): (&str, Option<&str>),
        select: &str,
        body: &wire::TaskUpdate,
    ) -> Result<flowgate_http::Response> {
        let body = serde_json::to_value(body)
            .map_err(|_| EngineError::upstream(None, "cannot encode the task update"))?;
        let res = self
            .c()
            .call(
                cx,
                op,
                Idempotency::NonIdempotent,
                Method::PUT,
                self.c().wf(&["tasks", native])?,
                &vec![("select", select.to_owned())],
                Some(&body),
            )
            .await;
        if let Some(pid) = pid {
            self.invalidate(pid);
        }
        res
    }

    /// Re-reads a task after a write whose outcome is unknown.
    pub(super) async fn reconcile_completed(
        &self,
        cx: &CallContext,
        native: &str,
    ) -> Option<wire::Task> {
        let t = self.raw_task(cx, native).await.ok()?;
        (t.state.as_deref() == Some("completed") || t.ended_at.is_some()).then_some(t)
    }

    pub(super) async fn start_process(
        &self,
        cx: &CallContext,
        req: StartWorkflow,
    ) -> Result<WorkflowInstance> {
        let d = self.latest_definition(cx, &req.model).await?;
        let form = self.start_form(cx, &d.id).await?;
        // Every variable is typed by the start form before anything else is asked or
        // written: a value that cannot be converted is refused first.
        let mut vars = serde_json::Map::new();
        for (name, value) in &req.variables {
            let alf = convert::alf_name(name);
            // Alfresco drops unknown start variables silently; drop them here on purpose.
            let Some(el) = convert::form_element(&form, &alf) else {
                continue;
            };
            let v = convert::form_value(el, value)?;
            if !v.is_null() {
                vars.insert(alf, v);
            }
        }
        // Single-reviewer models accept a one-person `participants` list too.
        if let Some(el) = convert::form_element(&form, "bpm_assignee") {
            if !vars.contains_key("bpm_assignee") {
                if let Some(v) = req.variables.get("participants") {
                    let a = convert::form_value(el, v)?;
                    if !a.is_null() {
                        vars.insert("bpm_assignee".into(), a);
                    }
                }
            }
        }
        let mut items = Vec::new();
        for doc in &req.documents {
            let loc = if doc.starts_with('/') {
                DocLocator::Path(doc.clone())
            } else {
                DocLocator::Id(doc.clone())
            };
            items.push(self.document(cx, &loc).await?.id);
        }
        for e in form
            .iter()
            .filter(|e| e.required && e.default_value.is_none())
        {
            if !vars.contains_key(&e.name) {
                return Err(EngineError::bad_request(format!(
                    "variable '{}' is required to start '{}'",
                    convert::nuxeo_name(&e.name),
                    req.model
                )));
            }
        }
        let key = d.key().to_owned();
        let body = wire::ProcessBody {
            business_key: convert::business_key(&key, &cx.user),
            process_definition_key: key,
            variables: vars,
            items,
        };
        let body = serde_json::to_value(&body)
            .map_err(|_| EngineError::upstream(None, "cannot encode the start request"))?;
        let resp = self
            .c()
            .call(
                cx,
                "start",
                Idempotency::NonIdempotent,
                Method::POST,
                self.c().wf(&["processes"])?,
                &Vec::new(),
                Some(&body),
            )
            .await?;
        let p: wire::Entry<wire::Process> = self.c().read("start", resp)?;
        self.invalidate(&p.entry.id);
        self.instance_of(cx, &p.entry).await
    }

    pub(super) async fn cancel_process(&self, cx: &CallContext, id: &str) -> Result<()> {
        let native = convert::to_native_id(id)?;
        let p = self.get_process(cx, &native).await?;
        let info = self.process_info(cx, &p).await?;
        if !flowgate_core::access::may_cancel_workflow(cx, info.initiator.as_deref()) {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot cancel workflow {id}",
                cx.user
            )));
        }
        if info.state != WorkflowState::Running {
            return Err(EngineError::bad_request(format!(
                "workflow {id} is not running"
            )));
        }
        let res = self
            .c()
            .call(
                cx,
                "cancel",
                Idempotency::NonIdempotent,
                Method::DELETE,
                self.c().wf(&["processes", &native])?,
                &Vec::new(),
                None,
            )
            .await;
        // Whatever the outcome (a timed-out DELETE may have landed), nothing cached about
        // the process is trusted any more.
        self.invalidate(&native);
        self.inner.processes.lock().remove(&native);
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Timeout => {
                // The DELETE may have happened: a deleteReason proves it.
                match self.get_process(cx, &native).await {
                    Ok(p) if p.delete_reason.is_some() => Ok(()),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub(super) async fn complete_task(
        &self,
        cx: &CallContext,
        id: &str,
        c: Completion,
    ) -> Result<Task> {
        let (raw, task) = self.visible_task(cx, id, true).await?;
        if !cx.admin && !self.is_actor(cx, &task) && !self.c().mode().forwards_caller() {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot end this task",
                cx.user
            )));
        }
        ensure_open(&task)?;
        let form = self.task_form(cx, &raw).await?;
        let mut variables: Vec<wire::VariableBody> = Vec::new();
        match convert::outcome(&form.elements) {
            Some((prop, values, _)) => {
                let value = values
                    .iter()
                    .find(|v| v.eq_ignore_ascii_case(&c.action))
                    .ok_or_else(|| {
                        EngineError::bad_request(format!(
                            "action '{}' is not one of {}",
                            c.action,
                            values
                                .iter()
                                .map(|v| v.to_lowercase())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                variables.push(wire::VariableBody::local(
                    prop.clone(),
                    Value::from(value.as_str()),
                ));
            }
            None => {
                if c.action != convert::DEFAULT_ACTION {
                    return Err(EngineError::bad_request(format!(
                        "action '{}' is not one of {}",
                        c.action,
                        convert::DEFAULT_ACTION
                    )));
                }
            }
        }
        let comment = c
            .comment
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| {
                c.variables
                    .get("comment")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        let native = raw.id.clone();
        if let Some(text) = comment {
            let vars = self.task_vars(cx, &native).await?;
            variables.push(convert::comment_log_with(
                &vars,
                &cx.user,
                Some(text.clone()),
            ));
            variables.push(wire::VariableBody::local(
                "bpm_comment",
                Value::String(text),
            ));
        }
        for (name, value) in &c.variables {
            let alf = convert::alf_name(name);
            if name == "comment" || alf == "bpm_comment" || variables.iter().any(|v| v.name == alf)
            {
                continue;
            }
            // Unknown names are ignored, as the trait says; known ones are typed by the
            // task form (before anything is written).
            if let Some(el) = convert::form_element(&form.elements, &alf) {
                let value = convert::form_value(el, value)?;
                if !value.is_null() {
                    variables.push(wire::VariableBody::local(alf, value));
                }
            }
        }
        let mut assignee = raw.assignee.clone();
        if convert::is_delegated(&raw) {
            // Activiti refuses to complete a pending delegation: resolve it first, which
            // hands the task back to its owner.
            self.put_task(
                cx,
                "resolve",
                (&native, raw.process_id.as_deref()),
                "state",
                &wire::TaskUpdate {
                    state: Some("resolved"),
                    ..Default::default()
                },
            )
            .await?;
            assignee = raw.owner.clone();
        }
        if assignee.is_none() {
            // Pooled task: take it first so that the completing user is recorded.
            let (select, body) = match self.c().mode() {
                AuthMode::Passthrough | AuthMode::BearerPassthrough => (
                    "state",
                    wire::TaskUpdate {
                        state: Some("claimed"),
                        ..Default::default()
                    },
                ),
                _ => (
                    "assignee",
                    wire::TaskUpdate {
                        assignee: Some(cx.user.clone()),
                        ..Default::default()
                    },
                ),
            };
            self.put_task(
                cx,
                "claim",
                (&native, raw.process_id.as_deref()),
                select,
                &body,
            )
            .await?;
        }
        let body = wire::TaskUpdate {
            state: Some("completed"),
            variables: Some(variables),
            ..Default::default()
        };
        let res = self
            .put_task(
                cx,
                "complete",
                (&native, raw.process_id.as_deref()),
                "state,variables",
                &body,
            )
            .await;
        let done = match res {
            Ok(resp) => {
                self.c()
                    .read::<wire::Entry<wire::Task>>("complete", resp)?
                    .entry
            }
            Err(e) if e.kind() == ErrorKind::Timeout => {
                match self.reconcile_completed(cx, &native).await {
                    Some(t) => t,
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let fresh = self.raw_task(cx, &done.id).await.unwrap_or(done);
        self.build_task(cx, fresh, None, true).await
    }

    pub(super) async fn reassign_task(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let (raw, task) = self.visible_task(cx, id, true).await?;
        let user = single_user(&actors, "reassign")?;
        if !cx.admin
            && !self.is_owner(cx, &task)
            && task.workflow_initiator.as_deref() != Some(cx.user.as_str())
        {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot reassign task {id}",
                cx.user
            )));
        }
        ensure_open(&task)?;
        if !task.info.allow_reassignment {
            return Err(EngineError::conflict(format!(
                "Task {id} can not be reassigned. Node {} doesn't allow reassignment.",
                task.node_id
            )));
        }
        let vars = self.task_vars(cx, &raw.id).await?;
        let log =
            convert::comment_log_with(&vars, &cx.user, comment.filter(|c| !c.trim().is_empty()));
        let body = wire::TaskUpdate {
            assignee: Some(user),
            variables: Some(vec![log]),
            ..Default::default()
        };
        self.put_task(
            cx,
            "reassign",
            (&raw.id, raw.process_id.as_deref()),
            "assignee,variables",
            &body,
        )
        .await?;
        Ok(())
    }

    pub(super) async fn delegate_task(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let (raw, task) = self.visible_task(cx, id, true).await?;
        let user = single_user(&actors, "delegate")?;
        if !cx.admin
            && !self.is_owner(cx, &task)
            && task.workflow_initiator.as_deref() != Some(cx.user.as_str())
        {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot delegate task {id}",
                cx.user
            )));
        }
        ensure_open(&task)?;
        let vars = self.task_vars(cx, &raw.id).await?;
        let log =
            convert::comment_log_with(&vars, &cx.user, comment.filter(|c| !c.trim().is_empty()));
        if task.delegated_actors.contains(&user) {
            // Already delegated to this user: only record the comment.
            self.put_task(
                cx,
                "delegate",
                (&raw.id, raw.process_id.as_deref()),
                "variables",
                &wire::TaskUpdate {
                    variables: Some(vec![log]),
                    ..Default::default()
                },
            )
            .await?;
            return Ok(());
        }
        if !task.delegated_actors.is_empty() {
            return Err(EngineError::conflict(format!(
                "task {id} is already delegated; Alfresco keeps one delegate per task"
            )));
        }
        let body = wire::TaskUpdate {
            state: Some("delegated"),
            assignee: Some(user),
            variables: Some(vec![log]),
        };
        self.put_task(
            cx,
            "delegate",
            (&raw.id, raw.process_id.as_deref()),
            "state,assignee,variables",
            &body,
        )
        .await?;
        Ok(())
    }
}
