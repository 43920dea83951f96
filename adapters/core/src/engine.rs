//! The implementer contract.

use async_trait::async_trait;

use crate::{
    CallContext, Completion, DocLocator, Document, EngineError, Event, EventQuery, Graph, Page,
    Result, StartWorkflow, Task, TaskQuery, WorkflowInstance, WorkflowModel, WorkflowQuery,
};

/// What an engine supports beyond the required operations. Flat and `Copy`, all false
/// by default, filled in once when the engine is built. The router checks a flag before
/// calling the matching operation, so an unsupported call becomes one 501 code path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `reassign` replaces a task's actors.
    pub reassign: bool,
    /// `delegate` adds delegated actors.
    pub delegate: bool,
    /// `suspend` / `resume` of instances.
    pub suspend_resume: bool,
    /// `model_graph` returns a real graph.
    pub model_graph: bool,
    /// `workflow_graph` returns a real graph with current nodes marked.
    pub workflow_graph: bool,
    /// `document` can resolve documents by path.
    pub document_paths: bool,
    /// The engine knows which documents exist (otherwise documents are opaque references).
    pub document_store: bool,
}

/// Name, kind and capabilities of an engine instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineInfo {
    /// Name of the engine in the configuration (`local`, `alfresco`, ...).
    pub name: String,
    /// Kind of backend (`memory`, `alfresco`, `cq`).
    pub kind: &'static str,
    /// What it supports.
    pub capabilities: Capabilities,
}

/// Result of a health probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Working.
    Up,
    /// Working with problems (the message says which).
    Degraded(String),
    /// Not working (the message says why, without secrets).
    Down(String),
}

impl Health {
    /// Whether requests can be served.
    pub fn is_up(&self) -> bool {
        !matches!(self, Health::Down(_))
    }
}

/// A workflow backend.
///
/// Ids taken and returned are the engine's own (native, path-safe) ids; the gateway's
/// router adds and strips engine prefixes. Every call enforces the caller's visibility
/// and rights from [`CallContext`]: an engine never returns what the caller may not see.
///
/// Error conventions: unknown ids → [`EngineError::NotFound`]; caller not allowed →
/// `Forbidden`; object in the wrong state (task not open, reassignment not allowed by the
/// node, workflow already canceled) → `Conflict` (or `BadRequest` where the facade spec
/// says 400); unknown action or ill-typed variable → `BadRequest`.
#[async_trait]
pub trait WorkflowEngine: Send + Sync + std::fmt::Debug {
    /// Name, kind and capabilities.
    fn info(&self) -> &EngineInfo;

    /// All models this engine can start, sorted by name.
    async fn models(&self, cx: &CallContext) -> Result<Vec<WorkflowModel>>;

    /// One model by name.
    async fn model(&self, cx: &CallContext, name: &str) -> Result<WorkflowModel>;

    /// The graph of a model, every node `validated`.
    async fn model_graph(&self, cx: &CallContext, name: &str) -> Result<Graph>;

    /// Starts an instance as `cx.user` and runs it to its first wait state.
    async fn start(&self, cx: &CallContext, req: StartWorkflow) -> Result<WorkflowInstance>;

    /// One instance by id, in any state.
    async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance>;

    /// Instances matching a query.
    async fn workflows(&self, cx: &CallContext, q: WorkflowQuery)
        -> Result<Page<WorkflowInstance>>;

    /// Cancels an instance and its open tasks (initiator, admin or `powerusers` only).
    async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()>;

    /// The graph of an instance, with the nodes holding open tasks marked `suspended`.
    async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph>;

    /// One task by id, in any state.
    async fn task(&self, cx: &CallContext, id: &str) -> Result<Task>;

    /// Tasks matching a query.
    async fn tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>>;

    /// Completes a task with an action; returns the task as it is after the engine step.
    async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task>;

    /// Replaces a task's actors (prefixes stripped) and records a comment.
    async fn reassign(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()>;

    /// Adds delegated actors (prefixes stripped, no duplicates) and records a comment.
    async fn delegate(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()>;

    /// Resolves a document reference. Engines without a document store return a stub.
    async fn document(&self, cx: &CallContext, loc: &DocLocator) -> Result<Document>;

    /// Pauses an instance. Optional: see [`Capabilities::suspend_resume`].
    async fn suspend(&self, cx: &CallContext, id: &str) -> Result<()> {
        let _ = (cx, id);
        Err(EngineError::unsupported("suspend", &self.info().name))
    }

    /// Resumes a paused instance. Optional: see [`Capabilities::suspend_resume`].
    async fn resume(&self, cx: &CallContext, id: &str) -> Result<()> {
        let _ = (cx, id);
        Err(EngineError::unsupported("resume", &self.info().name))
    }

    /// Deletes for good the workflows that ended (done or canceled) before `before`,
    /// with their tasks; running workflows are never touched. Administrators only
    /// (`Forbidden` otherwise). Returns how many workflows were deleted. Optional: an
    /// engine that keeps no history of its own answers `Unsupported`.
    async fn purge_ended(
        &self,
        cx: &CallContext,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize> {
        let _ = (cx, before);
        Err(EngineError::unsupported("purge", &self.info().name))
    }

    /// Whether [`WorkflowEngine::events`] answers: the engine keeps a log of workflow
    /// events. False by default.
    fn keeps_events(&self) -> bool {
        false
    }

    /// Workflow events matching a query, oldest first, limited to the events of
    /// workflows the caller may see. Optional: see [`WorkflowEngine::keeps_events`].
    async fn events(&self, cx: &CallContext, q: EventQuery) -> Result<Page<Event>> {
        let _ = (cx, q);
        Err(EngineError::unsupported("events", &self.info().name))
    }

    /// A receiver of the events this engine commits from now on, in sequence order,
    /// for live consumers (the gateway's event stream). `None` (the default) when the
    /// engine publishes none. The sender never waits: a receiver that falls more than
    /// the channel's capacity behind is told it lagged.
    fn live_events(&self) -> Option<tokio::sync::broadcast::Receiver<std::sync::Arc<Event>>> {
        None
    }

    /// A cheap probe of the engine's health.
    async fn health(&self) -> Health;
}
