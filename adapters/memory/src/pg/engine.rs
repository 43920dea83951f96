//! [`PgEngine`]: the engine's logic ([`Core`]) on a runtime of its own.
//!
//! The gateway serves requests on several single-threaded runtimes (one per worker),
//! and a pooled database connection belongs to the runtime that opened it. So all
//! database work runs on one small multi-threaded runtime owned by the engine: a
//! trait call sends its work there and awaits the answer. The same runtime runs the
//! live event feed and the periodic jobs, and opening the engine (connect, migrate)
//! works from synchronous and asynchronous callers alike.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowgate_core::{
    CallContext, Completion, DocLocator, Document, EngineError, EngineInfo, Event, EventQuery,
    Graph, Health, Limits, Page, Result, StartWorkflow, Task, TaskQuery, WorkflowEngine,
    WorkflowInstance, WorkflowModel, WorkflowQuery,
};
use tokio::runtime::Runtime;
use tokio::sync::broadcast;

use super::{Core, PgOptions, PgStats};
use crate::catalog::ModelSource;
use crate::error::OpenError;
use crate::retention::RetentionPolicy;

/// Threads of the engine's database runtime.
const DB_THREADS: usize = 2;

/// The runtime, shut down without waiting when the engine goes (dropping a runtime
/// from asynchronous code would panic).
struct Rt(Option<Runtime>);

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The embedded engine with its state in PostgreSQL (see the [module](super)).
pub struct PgEngine {
    core: Arc<Core>,
    handle: tokio::runtime::Handle,
    _rt: Rt,
}

impl std::fmt::Debug for PgEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEngine")
            .field("name", &self.core.info.name)
            .finish_non_exhaustive()
    }
}

impl PgEngine {
    /// Connects, applies pending migrations (unless `options.migrate` is off), checks
    /// the schema and starts the live event feed. Blocks the calling thread until the
    /// database answered (or the connection failed). Fails when the database cannot be
    /// reached, its schema is newer than this build, or a model is broken.
    pub fn open(
        name: impl Into<String>,
        models: ModelSource,
        options: &PgOptions,
        limits: Limits,
    ) -> std::result::Result<PgEngine, OpenError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(DB_THREADS)
            .thread_name("flowgate-db")
            .enable_all()
            .build()
            .map_err(|e| super::PgError::Statement(format!("cannot start its runtime: {e}")))?;
        // Held so that a failed start shuts it down without blocking the caller.
        let rt = Rt(Some(rt));
        let Some(runtime) = rt.0.as_ref() else {
            return Err(super::PgError::Statement("no runtime".into()).into());
        };
        let name = name.into();
        // A fresh thread is outside any runtime, so it may block on this one.
        let core = std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(Core::open(name, models, options, limits)))
                .join()
        })
        .map_err(|_| super::PgError::Statement("start-up failed".into()))??;
        let core = Arc::new(core);
        let handle = runtime.handle().clone();
        {
            let _inside = handle.enter();
            core.spawn_feed();
        }
        Ok(PgEngine {
            core,
            handle,
            _rt: rt,
        })
    }

    /// Starts escalations every `escalate_every` and retention sweeps, once across
    /// replicas; they stop with the engine.
    pub fn start_jobs(&self, escalate_every: Option<Duration>, retention: Option<RetentionPolicy>) {
        let _inside = self.handle.enter();
        self.core.spawn_jobs(escalate_every, retention);
    }

    /// Pool and query counters.
    pub fn pg_stats(&self) -> PgStats {
        self.core.pg_stats()
    }

    /// The connection pool, for other tables of the same database (lasting tokens).
    /// Use it through [`PgEngine::run`].
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.core.pool
    }

    /// Runs `work` on the engine's database runtime and waits for its answer.
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.handle.spawn(work).await.map_err(|e| {
            tracing::error!(error = %e, "database work failed");
            EngineError::Unavailable("The workflow database work failed".into())
        })?
    }

    /// Runs `work` on the engine's database runtime from a thread outside any
    /// asynchronous task (a blocking pool thread) and waits for its answer.
    pub fn block_on<T, F>(&self, work: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.handle.block_on(self.run(work))
    }

    /// One escalation run now (tests and operators); 0 when another replica runs it.
    pub async fn run_escalations(&self) -> Result<usize> {
        let core = self.core.clone();
        self.run(async move { core.run_escalations().await }).await
    }

    /// One retention sweep now.
    pub async fn run_retention(&self, policy: RetentionPolicy) -> Result<usize> {
        let core = self.core.clone();
        self.run(async move { core.run_retention(&policy).await })
            .await
    }
}

/// Sends a trait call to the core on the database runtime.
macro_rules! on_db {
    ($self:ident, $cx:ident, |$core:ident, $c:ident| $body:expr) => {{
        let $core = $self.core.clone();
        let $c = $cx.clone();
        $self.run(async move { $body }).await
    }};
}

#[async_trait]
impl WorkflowEngine for PgEngine {
    fn info(&self) -> &EngineInfo {
        &self.core.info
    }

    async fn models(&self, cx: &CallContext) -> Result<Vec<WorkflowModel>> {
        self.core.models(cx).await
    }

    async fn model(&self, cx: &CallContext, name: &str) -> Result<WorkflowModel> {
        self.core.model(cx, name).await
    }

    async fn model_graph(&self, cx: &CallContext, name: &str) -> Result<Graph> {
        self.core.model_graph(cx, name).await
    }

    async fn start(&self, cx: &CallContext, req: StartWorkflow) -> Result<WorkflowInstance> {
        on_db!(self, cx, |core, cx| core.start(&cx, req).await)
    }

    async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance> {
        let id = id.to_owned();
        on_db!(self, cx, |core, cx| core.workflow(&cx, &id).await)
    }

    async fn workflows(
        &self,
        cx: &CallContext,
        q: WorkflowQuery,
    ) -> Result<Page<WorkflowInstance>> {
        on_db!(self, cx, |core, cx| core.workflows(&cx, q).await)
    }

    async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        let id = id.to_owned();
        on_db!(self, cx, |core, cx| core.cancel(&cx, &id).await)
    }

    async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let id = id.to_owned();
        on_db!(self, cx, |core, cx| core.workflow_graph(&cx, &id).await)
    }

    async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        let id = id.to_owned();
        on_db!(self, cx, |core, cx| core.task(&cx, &id).await)
    }

    async fn tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        on_db!(self, cx, |core, cx| core.tasks(&cx, q).await)
    }

    async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        let id = id.to_owned();
        on_db!(self, cx, |core, cx| core.complete(&cx, &id, c).await)
    }

    async fn reassign(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let id = id.to_owned();
        on_db!(self, cx, |core, cx| core
            .reassign(&cx, &id, actors, comment)
            .await)
    }

    async fn delegate(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let id = id.to_owned();
        on_db!(self, cx, |core, cx| core
            .delegate(&cx, &id, actors, comment)
            .await)
    }

    async fn document(&self, cx: &CallContext, loc: &DocLocator) -> Result<Document> {
        let loc = loc.clone();
        on_db!(self, cx, |core, cx| core.document(&cx, &loc).await)
    }

    async fn purge_ended(&self, cx: &CallContext, before: DateTime<Utc>) -> Result<usize> {
        on_db!(self, cx, |core, cx| core.purge_ended(&cx, before).await)
    }

    fn keeps_events(&self) -> bool {
        true
    }

    async fn events(&self, cx: &CallContext, q: EventQuery) -> Result<Page<Event>> {
        on_db!(self, cx, |core, cx| core.events(&cx, q).await)
    }

    fn live_events(&self) -> Option<broadcast::Receiver<Arc<Event>>> {
        self.core.live_events()
    }

    async fn health(&self) -> Health {
        let core = self.core.clone();
        match self.handle.spawn(async move { core.health().await }).await {
            Ok(h) => h,
            Err(_) => Health::Down("the database runtime stopped".into()),
        }
    }
}
