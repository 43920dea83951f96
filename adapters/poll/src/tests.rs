//! The feed over a scripted engine: baseline, events, durability across a reopen,
//! failures that lose nothing, retention.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flowgate_core::{
    CallContext, Capabilities, Completion, DocLocator, Document, EngineError, EngineInfo,
    EventKind, EventQuery, Graph, Health, Page, Result, StartWorkflow, Task, TaskQuery, TaskState,
    WorkflowEngine, WorkflowInstance, WorkflowModel, WorkflowQuery, WorkflowState,
};
use parking_lot::Mutex;

use super::*;

/// An upstream held in maps: running and ended instances and tasks, and a switch that
/// makes every read fail.
#[derive(Debug)]
struct Fake {
    info: EngineInfo,
    workflows: Mutex<HashMap<String, WorkflowInstance>>,
    tasks: Mutex<HashMap<String, Task>>,
    down: Mutex<bool>,
}

impl Fake {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            info: EngineInfo {
                name: "fake".into(),
                kind: "fake",
                capabilities: Capabilities::default(),
            },
            workflows: Mutex::default(),
            tasks: Mutex::default(),
            down: Mutex::new(false),
        })
    }

    fn start(&self, id: &str) {
        let wf = WorkflowInstance {
            id: id.into(),
            name: "review".into(),
            title: "Review".into(),
            state: WorkflowState::Running,
            model_name: "review".into(),
            initiator: Some("jdoe".into()),
            attached_documents: vec!["doc1".into()],
            variables: Default::default(),
            created: Utc::now(),
            ended: None,
        };
        self.workflows.lock().insert(id.into(), wf);
    }

    fn open_task(&self, id: &str, wf: &str, actor: &str) {
        let t = Task {
            id: id.into(),
            name: "Review".into(),
            workflow_id: Some(wf.into()),
            workflow_model_name: Some("review".into()),
            workflow_initiator: Some("jdoe".into()),
            workflow_title: None,
            workflow_state: Some(WorkflowState::Running),
            state: TaskState::Opened,
            directive: None,
            created: Utc::now(),
            due_date: None,
            node_id: "n1".into(),
            target_documents: vec!["doc1".into()],
            actors: vec![actor.into()],
            delegated_actors: vec![],
            comments: vec![],
            variables: Default::default(),
            info: Default::default(),
            initiator: None,
        };
        self.tasks.lock().insert(id.into(), t);
    }

    fn end_task(&self, id: &str) {
        if let Some(t) = self.tasks.lock().get_mut(id) {
            t.state = TaskState::Ended;
        }
    }

    fn finish(&self, id: &str) {
        if let Some(w) = self.workflows.lock().get_mut(id) {
            w.state = WorkflowState::Done;
        }
    }

    fn check(&self) -> Result<()> {
        if *self.down.lock() {
            Err(EngineError::upstream(Some(503), "fake is down"))
        } else {
            Ok(())
        }
    }
}

fn no(op: &'static str) -> EngineError {
    EngineError::unsupported(op, "fake")
}

#[async_trait]
impl WorkflowEngine for Fake {
    fn info(&self) -> &EngineInfo {
        &self.info
    }
    async fn models(&self, _: &CallContext) -> Result<Vec<WorkflowModel>> {
        Err(no("models"))
    }
    async fn model(&self, _: &CallContext, _: &str) -> Result<WorkflowModel> {
        Err(no("model"))
    }
    async fn model_graph(&self, _: &CallContext, _: &str) -> Result<Graph> {
        Err(no("graph"))
    }
    async fn start(&self, _: &CallContext, _: StartWorkflow) -> Result<WorkflowInstance> {
        Err(no("start"))
    }
    async fn workflow(&self, _: &CallContext, id: &str) -> Result<WorkflowInstance> {
        self.check()?;
        self.workflows
            .lock()
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::not_found(id))
    }
    async fn workflows(&self, _: &CallContext, q: WorkflowQuery) -> Result<Page<WorkflowInstance>> {
        self.check()?;
        let items: Vec<_> = self
            .workflows
            .lock()
            .values()
            .filter(|w| !q.running_only || w.state == WorkflowState::Running)
            .cloned()
            .collect();
        Ok(Page {
            total: items.len(),
            items: items.into_iter().take(q.page.limit).collect(),
        })
    }
    async fn cancel(&self, _: &CallContext, _: &str) -> Result<()> {
        Err(no("cancel"))
    }
    async fn workflow_graph(&self, _: &CallContext, _: &str) -> Result<Graph> {
        Err(no("graph"))
    }
    async fn task(&self, _: &CallContext, id: &str) -> Result<Task> {
        self.check()?;
        self.tasks
            .lock()
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::not_found(id))
    }
    async fn tasks(&self, _: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        self.check()?;
        let items: Vec<_> = self
            .tasks
            .lock()
            .values()
            .filter(|t| !q.open_only || t.state == TaskState::Opened)
            .cloned()
            .collect();
        Ok(Page {
            total: items.len(),
            items: items.into_iter().take(q.page.limit).collect(),
        })
    }
    async fn complete(&self, _: &CallContext, _: &str, _: Completion) -> Result<Task> {
        Err(no("complete"))
    }
    async fn reassign(
        &self,
        _: &CallContext,
        _: &str,
        _: Vec<String>,
        _: Option<String>,
    ) -> Result<()> {
        Err(no("reassign"))
    }
    async fn delegate(
        &self,
        _: &CallContext,
        _: &str,
        _: Vec<String>,
        _: Option<String>,
    ) -> Result<()> {
        Err(no("delegate"))
    }
    async fn document(&self, _: &CallContext, _: &DocLocator) -> Result<Document> {
        Err(no("document"))
    }
    async fn health(&self) -> Health {
        Health::Up
    }
}

fn settings(dir: Option<&std::path::Path>) -> PollSettings {
    PollSettings {
        every: Duration::from_millis(50),
        state_dir: dir.map(Into::into),
        retention: Duration::from_secs(3600),
        max_items: 100,
    }
}

fn all(feed: &EventFeed) -> Vec<(EventKind, String)> {
    let q = EventQuery {
        page: flowgate_core::PageRequest::new(0, 1000),
        ..EventQuery::default()
    };
    feed.events(&CallContext::admin("admin"), &q)
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.kind, e.task_id.unwrap_or(e.workflow_id)))
        .collect()
}

#[tokio::test]
async fn the_baseline_reports_nothing_and_later_changes_are_events() {
    let up = Fake::new();
    up.start("w0");
    let feed = EventFeed::open("fake", settings(None)).unwrap();
    assert_eq!(feed.poll(up.as_ref()).await, Ok(0), "baseline");
    let mut live = feed.subscribe();
    up.start("w1");
    up.open_task("t1", "w1", "asmith");
    assert_eq!(feed.poll(up.as_ref()).await, Ok(2));
    up.end_task("t1");
    up.finish("w1");
    assert_eq!(feed.poll(up.as_ref()).await, Ok(2));
    assert_eq!(
        all(&feed),
        [
            (EventKind::WorkflowStarted, "w1".into()),
            (EventKind::TaskCreated, "t1".into()),
            (EventKind::TaskEnded, "t1".into()),
            (EventKind::WorkflowFinished, "w1".into()),
        ]
    );
    let first = live.try_recv().unwrap();
    assert_eq!((first.seq, first.kind), (1, EventKind::WorkflowStarted));
    let asmith = CallContext::user("asmith", Vec::<String>::new());
    let seen = feed
        .events(&asmith, &EventQuery::for_document("doc1"))
        .unwrap();
    assert_eq!(seen.total, 4, "a task's actor sees its workflow's events");
    let other = CallContext::user("bob", Vec::<String>::new());
    assert!(feed
        .events(&other, &EventQuery::for_document("doc1"))
        .is_err());
}

#[tokio::test]
async fn a_reopened_feed_repeats_nothing_and_reports_what_changed_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let up = Fake::new();
    let feed = EventFeed::open("fake", settings(Some(dir.path()))).unwrap();
    feed.poll(up.as_ref()).await.unwrap();
    up.start("w1");
    up.open_task("t1", "w1", "asmith");
    feed.poll(up.as_ref()).await.unwrap();
    drop(feed);
    up.end_task("t1");
    let feed = EventFeed::open("fake", settings(Some(dir.path()))).unwrap();
    assert_eq!(all(&feed).len(), 2, "stored events are read back");
    assert_eq!(feed.poll(up.as_ref()).await, Ok(1));
    assert_eq!(feed.poll(up.as_ref()).await, Ok(0));
    let events = all(&feed);
    assert_eq!(events[2], (EventKind::TaskEnded, "t1".into()));
    let page = feed
        .events(&CallContext::admin("admin"), &EventQuery::default())
        .unwrap();
    let seqs: Vec<u64> = page.items.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3], "numbers continue across the reopen");
}

#[tokio::test]
async fn a_failed_poll_commits_nothing_and_the_next_one_catches_up() {
    let up = Fake::new();
    let feed = EventFeed::open("fake", settings(None)).unwrap();
    feed.poll(up.as_ref()).await.unwrap();
    up.start("w1");
    *up.down.lock() = true;
    assert!(feed.poll(up.as_ref()).await.is_err());
    assert!(feed.poll(up.as_ref()).await.is_err());
    let s = feed.status();
    assert_eq!((s.failures, s.consecutive_failures), (2, 2));
    assert!(s.last_error.is_some());
    *up.down.lock() = false;
    assert_eq!(feed.poll(up.as_ref()).await, Ok(1));
    assert_eq!(feed.status().consecutive_failures, 0);
    assert_eq!(all(&feed), [(EventKind::WorkflowStarted, "w1".into())]);
}

#[tokio::test]
async fn events_past_retention_are_dropped_from_memory_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let up = Fake::new();
    let mut s = settings(Some(dir.path()));
    s.retention = Duration::from_secs(1);
    let feed = EventFeed::open("fake", s.clone()).unwrap();
    feed.poll(up.as_ref()).await.unwrap();
    up.start("w1");
    feed.poll(up.as_ref()).await.unwrap();
    assert_eq!(all(&feed).len(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    up.start("w2");
    feed.poll(up.as_ref()).await.unwrap();
    assert_eq!(all(&feed), [(EventKind::WorkflowStarted, "w2".into())]);
    drop(feed);
    let feed = EventFeed::open("fake", s).unwrap();
    assert_eq!(all(&feed), [(EventKind::WorkflowStarted, "w2".into())]);
}
