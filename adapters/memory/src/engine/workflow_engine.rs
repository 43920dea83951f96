//! The [`WorkflowEngine`] trait for [`MemoryEngine`]: reads answered from the store and
//! its indexes, steps run under their instance's lock and committed before answering.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowgate_core::{
    CallContext, Completion, DocLocator, Document, EngineError, EngineInfo, Graph, Health, Page,
    Result, StartWorkflow, Task, TaskQuery, TaskState, WorkflowEngine, WorkflowInstance,
    WorkflowModel, WorkflowQuery, WorkflowState,
};
use uuid::Uuid;

use super::{purge, MemoryEngine};
use crate::catalog::PATH_NS;
use crate::journal::Journal;
use crate::ops::{self, parse_id};
use crate::state::Change;
use crate::view;

#[async_trait]
impl WorkflowEngine for MemoryEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    async fn models(&self, _cx: &CallContext) -> Result<Vec<WorkflowModel>> {
        Ok(self.models.values().map(|m| m.entity()).collect())
    }

    async fn model(&self, _cx: &CallContext, name: &str) -> Result<WorkflowModel> {
        Ok(self.model_of(name)?.entity())
    }

    async fn model_graph(&self, _cx: &CallContext, name: &str) -> Result<Graph> {
        Ok(self.model_of(name)?.model_graph())
    }

    async fn start(&self, cx: &CallContext, req: StartWorkflow) -> Result<WorkflowInstance> {
        let model = self.model_of(&req.model)?.clone();
        let wf = ops::new_instance(&model, cx, req)?;
        let (out, changes) = {
            let mut txn = self.txn(&model, wf, cx);
            txn.wf.created = txn.now;
            txn.start()?;
            txn.wf.name = self.instance_name(&model.name);
            (view::workflow(&model, &txn.wf), txn.into_changes())
        };
        // No lock: nobody knows the new id before this call answers.
        self.commit(changes, None).await?;
        Ok(out)
    }

    async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance> {
        let (wf, model) = self.load_workflow(id)?;
        if !view::can_see_workflow(cx, &wf, &self.store) {
            return Err(EngineError::forbidden(format!(
                "Privilege 'READ' is not granted to '{}'",
                cx.user
            )));
        }
        Ok(view::workflow(&model, &wf))
    }

    async fn workflows(
        &self,
        cx: &CallContext,
        q: WorkflowQuery,
    ) -> Result<Page<WorkflowInstance>> {
        // Candidates from the most selective index available.
        let candidates: Vec<Uuid> = if let Some(u) = &q.initiator {
            self.store.workflows_of_initiator(u)
        } else if let Some(d) = &q.document {
            self.store.workflows_of_document(d)
        } else if let Some(m) = &q.model_name {
            self.store.workflows_of_model(m)
        } else if cx.admin {
            if q.running_only {
                self.store.running_workflows()
            } else {
                self.store.all_workflows()
            }
        } else {
            let mut ids: HashSet<Uuid> = self
                .store
                .workflows_of_initiator(&cx.user)
                .into_iter()
                .collect();
            let principals = flowgate_core::ActorFilter {
                user: cx.user.clone(),
                groups: cx.groups.clone(),
            }
            .principals();
            for p in principals {
                for tid in self.store.tasks_of_actor(&p) {
                    if let Some(t) = self.store.task(&tid) {
                        ids.insert(t.workflow_id);
                    }
                }
            }
            ids.into_iter().collect()
        };
        let mut out = Vec::new();
        for id in candidates {
            let Some(wf) = self.store.workflow(&id) else {
                continue;
            };
            if q.running_only && wf.state != WorkflowState::Running {
                continue;
            }
            if q.initiator.as_ref().is_some_and(|u| &wf.initiator != u) {
                continue;
            }
            if q.document
                .as_ref()
                .is_some_and(|d| !wf.documents.contains(d))
            {
                continue;
            }
            if q.model_name
                .as_ref()
                .is_some_and(|m| !ops::model_matches(&wf.name, m))
            {
                continue;
            }
            if !view::can_see_workflow(cx, &wf, &self.store) {
                continue;
            }
            let Some(model) = self.models.get(&*wf.model) else {
                continue;
            };
            out.push(view::workflow(model, &wf));
        }
        Ok(q.sorted_page(out))
    }

    async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        let (wf, _) = self.load_workflow(id)?;
        let slot = self
            .store
            .slot(&wf.id)
            .ok_or_else(|| EngineError::not_found(flowgate_core::shown(id)))?;
        let guard = slot.lock().await;
        let (wf, model) = self.load_workflow(id)?;
        ops::check_cancel(cx, id, &wf)?;
        let changes = {
            let mut txn = self.txn(&model, (*wf).clone(), cx);
            txn.cancel();
            txn.into_changes()
        };
        self.commit(changes, Some(guard)).await
    }

    async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let (wf, model) = self.load_workflow(id)?;
        if !view::can_see_workflow(cx, &wf, &self.store) {
            return Err(EngineError::forbidden(format!(
                "Privilege 'READ' is not granted to '{}'",
                cx.user
            )));
        }
        let open_nodes: HashSet<String> = wf
            .tasks
            .iter()
            .filter_map(|t| self.store.task(t))
            .filter(|t| t.state == TaskState::Opened)
            .map(|t| t.node_id)
            .collect();
        Ok(ops::instance_graph(&model, &wf, &open_nodes))
    }

    async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        let nf = || EngineError::not_found(flowgate_core::shown(id));
        let tid = parse_id(id).ok_or_else(nf)?;
        // Built from the stored record in place: a read copies only what it answers.
        self.store
            .with_task(&tid, |t| {
                self.store
                    .with_workflow(&t.workflow_id, |wf| {
                        let model = self.models.get(&*wf.model).ok_or_else(nf)?;
                        if !view::can_see_task(cx, wf, t) {
                            return Err(EngineError::forbidden(format!(
                                "Privilege 'READ' is not granted to '{}'",
                                cx.user
                            )));
                        }
                        Ok(view::task(model, wf, t))
                    })
                    .ok_or_else(nf)?
            })
            .ok_or_else(nf)?
    }

    async fn tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        let by_workflows = |wfs: Vec<Uuid>| -> Vec<Uuid> {
            wfs.iter()
                .filter_map(|w| self.store.workflow(w))
                .flat_map(|w| w.tasks.clone())
                .collect()
        };
        let candidates: Vec<Uuid> = if let Some(w) = &q.workflow_id {
            match parse_id(w) {
                Some(w) => by_workflows(vec![w]),
                None => Vec::new(),
            }
        } else if let Some(f) = &q.actor {
            f.principals()
                .iter()
                .flat_map(|p| self.store.tasks_of_actor(p))
                .collect()
        } else if let Some(d) = &q.document {
            by_workflows(self.store.workflows_of_document(d))
        } else if let Some(m) = &q.model_name {
            by_workflows(self.store.workflows_of_model(m))
        } else if cx.admin {
            if q.open_only {
                self.store.open_task_ids()
            } else {
                self.store.all_task_ids()
            }
        } else {
            let me = flowgate_core::ActorFilter {
                user: cx.user.clone(),
                groups: cx.groups.clone(),
            };
            let mut ids: Vec<Uuid> = me
                .principals()
                .iter()
                .flat_map(|p| self.store.tasks_of_actor(p))
                .collect();
            ids.extend(by_workflows(self.store.workflows_of_initiator(&cx.user)));
            ids
        };
        let mut seen = HashSet::with_capacity(candidates.len());
        let mut out = Vec::new();
        for id in candidates {
            if !seen.insert(id) {
                continue;
            }
            let Some(t) = self.store.task(&id) else {
                continue;
            };
            if q.open_only && t.state != TaskState::Opened {
                continue;
            }
            if let Some(f) = &q.actor {
                if !t.principals().any(|p| f.matches(p)) {
                    continue;
                }
            }
            let Some(wf) = self.store.workflow(&t.workflow_id) else {
                continue;
            };
            if q.workflow_id
                .as_ref()
                .is_some_and(|w| &wf.id.to_string() != w)
            {
                continue;
            }
            if q.document
                .as_ref()
                .is_some_and(|d| !wf.documents.contains(d))
            {
                continue;
            }
            if q.model_name
                .as_ref()
                .is_some_and(|m| !ops::model_matches(&wf.name, m))
            {
                continue;
            }
            if !view::can_see_task(cx, &wf, &t) {
                continue;
            }
            let Some(model) = self.models.get(&*wf.model) else {
                continue;
            };
            out.push(view::task(model, &wf, &t));
        }
        Ok(q.sorted_page(out))
    }

    async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        let comment = ops::completion_comment(&c);
        let step = self
            .step_task(
                cx,
                id,
                |t, wf, model| ops::check_completion(cx, t, wf, model, &c),
                |txn, tid, (nv, wv)| {
                    txn.complete(tid, &c.action, comment, nv, wv)?;
                    Ok(tid)
                },
            )
            .await?;
        // The answer is the task as this step left it, built from the records about to
        // be committed rather than read back from the store afterwards.
        let answer = step
            .view_of(step.result)
            .ok_or_else(|| EngineError::not_found(flowgate_core::shown(id)))?;
        self.commit(step.changes, Some(step.guard)).await?;
        Ok(answer)
    }

    async fn reassign(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let actors = ops::principals_of(&actors);
        let no_actors = actors.is_empty();
        self.limits.check_task_actors(actors.len())?;
        self.with_task(
            cx,
            id,
            |t, wf, model| ops::check_reassign(cx, id, t, wf, model, no_actors),
            |txn, tid, ()| {
                ops::apply_reassign(txn, tid, actors, comment);
                Ok(())
            },
        )
        .await
    }

    async fn delegate(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let actors = ops::principals_of(&actors);
        let new_actors = actors.clone();
        self.with_task(
            cx,
            id,
            |t, wf, model| ops::check_delegate(cx, t, wf, model, &new_actors, &self.limits),
            |txn, tid, ()| {
                ops::apply_delegate(txn, tid, actors, comment);
                Ok(())
            },
        )
        .await
    }

    async fn document(&self, _cx: &CallContext, loc: &DocLocator) -> Result<Document> {
        match loc {
            DocLocator::Id(id) => Ok(Document {
                id: id.clone(),
                path: self.store.document_path(id),
                ..Document::default()
            }),
            DocLocator::Path(p) => {
                let path = if p.starts_with('/') {
                    p.clone()
                } else {
                    format!("/{p}")
                };
                let id = Uuid::new_v5(&PATH_NS, path.as_bytes()).to_string();
                if self.store.document_path(&id).is_none() {
                    self.commit(
                        vec![Change::DocumentPath {
                            id: id.clone(),
                            path: path.clone(),
                        }],
                        None,
                    )
                    .await?;
                }
                Ok(Document {
                    id,
                    path: Some(path),
                    ..Document::default()
                })
            }
        }
    }

    async fn purge_ended(&self, cx: &CallContext, before: DateTime<Utc>) -> Result<usize> {
        purge::purge_for(self, cx, before).await
    }

    fn keeps_events(&self) -> bool {
        true
    }

    async fn events(
        &self,
        cx: &CallContext,
        q: flowgate_core::EventQuery,
    ) -> Result<Page<flowgate_core::Event>> {
        crate::events::query(&self.store, &self.info.name, cx, &q)
    }

    fn live_events(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<std::sync::Arc<flowgate_core::Event>>> {
        Some(self.store.events().subscribe())
    }

    async fn health(&self) -> Health {
        match self.journal.as_ref().and_then(Journal::failure) {
            Some(why) => Health::Down(format!("storage stopped after a failed write: {why}")),
            None => Health::Up,
        }
    }
}
