//! Writes: start, state changes (cancel, suspend, resume), complete, delegate. Every
//! write drops what the cache holds about its instance.

use super::*;

impl CqEngine {
    /// POSTs `state=<target>`; an ambiguous outcome is settled by reading the state back.
    pub(super) async fn change_state(
        &self,
        cx: &CallContext,
        id: &str,
        op: &'static str,
        target: &str,
    ) -> Result<()> {
        let (path, doc) = self.owned_instance(cx, id, op).await?;
        if target == "ABORTED" && matches!(doc.state.as_str(), "ABORTED" | "COMPLETED") {
            // Same answer as the other engines for canceling an ended workflow.
            return Err(EngineError::bad_request(format!(
                "workflow {id} has already ended ({})",
                convert::workflow_state(&doc.state).as_str()
            )));
        }
        let mut fields = vec![("state".to_owned(), target.to_owned())];
        if target == "ABORTED" {
            fields.push((
                "terminateComment".to_owned(),
                format!("{op} by {}", cx.user),
            ));
        }
        let outcome = self.client.post_form(cx, op, &path, &fields).await;
        // Whatever the answer, the state may have changed.
        self.forget(&path, None);
        match outcome {
            Ok(posted) => {
                if posted.status == 201 || posted.page.message.as_deref() == Some("Created") {
                    return Err(EngineError::upstream(
                        Some(posted.status),
                        format!(
                            "engine '{}' created content instead of changing the workflow state",
                            self.name()
                        ),
                    ));
                }
                Ok(())
            }
            Err(e) if ambiguous(&e) => {
                let doc = self.instance_doc(cx, &path).await.map_err(|_| e.clone())?;
                if doc.state == target {
                    tracing::info!(engine = %self.name(), op, "ambiguous state change settled by reading it back");
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Resolves a completion action to `(field, rid)`: a route by id or label, or a
    /// back-route written `back:<id or label>`.
    pub(super) fn resolve_action(
        action: &str,
        routes: &[Choice],
        back: &[Choice],
    ) -> Option<(&'static str, String)> {
        let find = |list: &[Choice], a: &str| {
            list.iter()
                .find(|c| c.rid == a)
                .or_else(|| list.iter().find(|c| c.label.as_deref() == Some(a)))
                .map(|c| c.rid.clone())
        };
        if let Some(b) = action.strip_prefix("back:") {
            return find(back, b).map(|rid| ("backroute", rid));
        }
        find(routes, action).map(|rid| ("route", rid))
    }

    /// Loads an open item for an action, or says why it cannot be acted on.
    pub(super) async fn open_item(
        &self,
        cx: &CallContext,
        id: &str,
    ) -> Result<(WorkItemDoc, InstanceDoc, Arc<ModelInfo>)> {
        let (item_path, inst_path) = ids::task_path(id, self.root())?;
        let inst = self
            .instance_doc(cx, &inst_path)
            .await
            .map_err(|e| not_found_as(e, format!("Can not get task with id: {id}")))?;
        let item = match self.item_doc(cx, &item_path).await {
            Ok(i) => i,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let past = self.past_task(cx, &item_path, &inst).await?;
                return Err(EngineError::conflict(format!(
                    "The task '{}' is not active",
                    past.name
                )));
            }
            Err(e) => return Err(e),
        };
        let model = self.instance_model(cx, &inst).await?;
        Ok((item, inst, model))
    }

    pub(super) fn ensure_running(inst: &InstanceDoc, task_name: &str) -> Result<()> {
        match inst.state.as_str() {
            "RUNNING" => Ok(()),
            "SUSPENDED" => Err(EngineError::conflict(format!(
                "The task '{task_name}' belongs to a suspended workflow"
            ))),
            _ => Err(EngineError::conflict(format!(
                "The task '{task_name}' is not active"
            ))),
        }
    }

    pub(super) async fn item_still_open(
        &self,
        cx: &CallContext,
        inst_path: &str,
        item: &str,
    ) -> Result<bool> {
        let doc = self.instance_doc(cx, inst_path).await?;
        Ok(doc.work_items.iter().any(|w| w.id == item))
    }

    pub(super) async fn complete_task(
        &self,
        cx: &CallContext,
        id: &str,
        c: Completion,
    ) -> Result<Task> {
        let (item, inst, model) = self.open_item(cx, id).await?;
        let tc = self.context(cx, &inst, &model).await;
        let gone = |e: EngineError, name: &str| match e.kind() {
            // The item vanished after it was read: someone else completed it.
            ErrorKind::NotFound => {
                EngineError::conflict(format!("The task '{name}' is not active"))
            }
            _ => e,
        };
        let node_title = item
            .node
            .as_deref()
            .and_then(|n| model.node(n))
            .map(|n| n.title.clone())
            .unwrap_or_default();
        let mut task = self
            .open_task(cx, &item, &tc)
            .await
            .map_err(|e| gone(e, &node_title))?;
        if self.restricted(cx) && !effective_assignee(&task).is_some_and(|a| cx.is_principal(a)) {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot end this task",
                cx.user
            )));
        }
        Self::ensure_running(&inst, &task.name)?;
        // Route ids are opaque and may change: read them right before completing.
        let (routes, back) = self
            .actions(cx, &item.id)
            .await
            .map_err(|e| gone(e, &task.name))?;
        let Some((field, rid)) = Self::resolve_action(&c.action, &routes, &back) else {
            let known: Vec<&str> = task.info.actions.iter().map(|a| a.name.as_str()).collect();
            return Err(EngineError::bad_request(format!(
                "unknown action '{}' for task '{}'; known actions: {}",
                c.action,
                task.name,
                known.join(", ")
            )));
        };
        if !c.variables.is_empty() {
            tracing::info!(engine = %self.name(), "CQ work items take no variables on completion; ignored");
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
                    .filter(|s| !s.trim().is_empty())
            });
        let mut fields = vec![
            ("item".to_owned(), item.id.clone()),
            (field.to_owned(), rid),
        ];
        if let Some(text) = &comment {
            fields.push(("comment".into(), text.clone()));
            if self.config.profile.has_touch_inbox() {
                fields.push((format!("comment-{}", item.id), text.clone()));
            }
        }
        let outcome = self
            .client
            .post_form(cx, "complete_task", "/bin/workflow/inbox", &fields)
            .await;
        // Whatever the answer, the instance may have moved on.
        self.forget(&inst.id, Some(&item.id));
        match outcome {
            Ok(_) => {}
            Err(e) if ambiguous(&e) => {
                if self
                    .item_still_open(cx, &inst.id, &item.id)
                    .await
                    .unwrap_or(true)
                {
                    return Err(e);
                }
                tracing::info!(engine = %self.name(), "ambiguous completion settled: the item is gone");
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::Upstream
                ) =>
            {
                // A concurrent completion wins the race: the item is gone, this one lost.
                if !self
                    .item_still_open(cx, &inst.id, &item.id)
                    .await
                    .unwrap_or(true)
                {
                    return Err(EngineError::conflict(format!(
                        "The task '{}' is not active",
                        task.name
                    )));
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        let after = self.instance_doc(cx, &inst.id).await?;
        if after.work_items.iter().any(|w| w.id == item.id) {
            return Err(EngineError::upstream(
                Some(200),
                format!(
                    "engine '{}' accepted the completion but the task is still open",
                    self.name()
                ),
            ));
        }
        self.ledger.forget_item(&item.id);
        task.state = TaskState::Ended;
        task.workflow_state = Some(convert::workflow_state(&after.state));
        if let Some(text) = comment {
            task.comments.push(Comment {
                author: cx.user.clone(),
                text: Some(text),
                date: Utc::now(),
            });
        }
        Ok(task)
    }

    pub(super) async fn delegate_task(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let [actor] = actors.as_slice() else {
            return Err(EngineError::bad_request(
                "a CQ work item has one assignee: delegate to exactly one principal",
            ));
        };
        let target = bare(actor).to_owned();
        let (item, inst, model) = self.open_item(cx, id).await?;
        let tc = self.context(cx, &inst, &model).await;
        let assignee = self.assignee(&item, None).or_else(|| {
            item.node
                .as_deref()
                .and_then(|n| model.node(n))
                .and_then(|n| n.participant.clone())
        });
        if assignee.as_deref() == Some(target.as_str()) {
            // Already delegated there: nothing to do (CQ would refuse the self-delegation).
            return Ok(());
        }
        let is_actor = assignee.as_deref().is_some_and(|a| cx.is_principal(a));
        let is_initiator = self.initiator(&inst).as_deref() == Some(cx.user.as_str());
        if self.restricted(cx) && !is_actor && !is_initiator {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot delegate task {id}",
                cx.user
            )));
        }
        let node_title = item
            .node
            .as_deref()
            .and_then(|n| model.node(n))
            .map_or_else(|| tc.inst_title.clone(), |n| n.title.clone());
        Self::ensure_running(&inst, &node_title)?;
        let allowed: Delegatees = self.choices(cx, &item.id, ".delegatees.json").await?;
        if !allowed.delegatees.iter().any(|d| d.rid == target) {
            return Err(EngineError::bad_request(format!(
                "'{target}' is not a valid delegatee for task '{node_title}'"
            )));
        }
        let mut fields = vec![
            ("item".to_owned(), item.id.clone()),
            ("delegatee".to_owned(), target.clone()),
        ];
        if let Some(text) = comment.filter(|c| !c.trim().is_empty()) {
            fields.push(("comment".into(), text.clone()));
            if self.config.profile.has_touch_inbox() {
                fields.push((format!("comment-{}", item.id), text));
            }
        }
        let outcome = self
            .client
            .post_form(cx, "delegate_task", "/bin/workflow/inbox", &fields)
            .await;
        self.forget(&inst.id, Some(&item.id));
        outcome?;
        if let Ok(after) = self.item_doc(cx, &item.id).await {
            if after
                .current_assignee
                .as_deref()
                .is_some_and(|a| a != target)
            {
                return Err(EngineError::upstream(
                    Some(200),
                    format!(
                        "engine '{}' accepted the delegation but the assignee did not change",
                        self.name()
                    ),
                ));
            }
        }
        self.ledger.record_delegation(&item.id, &target);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices(v: serde_json::Value) -> Vec<Choice> {
        serde_json::from_value(v).expect("choices")
    }

    #[test]
    fn route_ids_are_opaque_whatever_their_shape() {
        // Numeric (the simulator), numeric strings (Adobe's example) and composite
        // `<id>@<participant>` values (as Touch UI builds them), labels repeated.
        let routes = choices(serde_json::json!([
            {"rid": -1_234_567, "label": "Approve"},
            {"rid": "233123169", "label": "Done"},
            {"rid": "node2#node3@jdoe", "label": "Done"},
            {"id": "r4@authors", "name": "Escalate"},
        ]));
        let back = choices(serde_json::json!([{"rid": "node1@editor1", "label": "Redo"}]));
        let names: Vec<String> = action_list(&routes, "")
            .into_iter()
            .chain(action_list(&back, "back:"))
            .map(|a| a.name)
            .collect();
        assert_eq!(
            names,
            [
                "Approve",
                "233123169",
                "node2#node3@jdoe",
                "Escalate",
                "back:Redo"
            ]
        );
        for (action, want) in [
            ("Approve", ("route", "-1234567")),
            ("node2#node3@jdoe", ("route", "node2#node3@jdoe")),
            ("233123169", ("route", "233123169")),
            ("Escalate", ("route", "r4@authors")),
            ("r4@authors", ("route", "r4@authors")),
            ("back:Redo", ("backroute", "node1@editor1")),
            ("back:node1@editor1", ("backroute", "node1@editor1")),
        ] {
            let got = CqEngine::resolve_action(action, &routes, &back);
            assert_eq!(
                got.as_ref().map(|(f, r)| (*f, r.as_str())),
                Some(want),
                "{action}"
            );
        }
        assert_eq!(CqEngine::resolve_action("node2", &routes, &back), None);
    }
}
