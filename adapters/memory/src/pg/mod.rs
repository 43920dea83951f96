//! The embedded engine on PostgreSQL: the database is the source of truth.
//!
//! [`PgEngine`] runs the same models, graph runner and rules as [`crate::MemoryEngine`],
//! but keeps no workflow state of its own: every read is a query, every step one
//! transaction. A step locks its instance's row (`SELECT … FOR UPDATE`), reads the
//! instance and its tasks, runs the graph on working copies, and writes the changed
//! rows and the step's events before it commits; so several replicas on one database
//! serialize steps of one instance and see each other's changes at once.
//!
//! Layout: `schema` (connection, migrations), `write` (steps and their writes), `read`
//! (queries), `events` (the event log and its live feed), `jobs` (escalations and
//! retention, once across replicas), `copy` (moving a redb store in), `error` (what
//! database failures become), `meter` (counters of the pool and the queries).

mod copy;
mod engine;
pub(crate) mod error;
mod events;
mod jobs;
mod meter;
mod read;
mod schema;
mod write;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowgate_core::{
    CallContext, Completion, DocLocator, Document, EngineError, EngineInfo, Event, EventQuery,
    Graph, Health, Limits, Page, Result, StartWorkflow, Task, TaskQuery, TaskState, WorkflowEngine,
    WorkflowInstance, WorkflowModel, WorkflowQuery,
};
use sqlx::PgPool;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::catalog::{embedded_info, model_map, ModelSource, PATH_NS};
use crate::error::OpenError;
use crate::model::Model;
use crate::ops::{self, parse_id};
use crate::state::{TaskRecord, WorkflowRecord};
use crate::view;

pub use copy::{copy_redb, CopyReport};
pub use engine::PgEngine;
pub use error::PgError;
pub use schema::{migrate, SCHEMA_VERSION};

/// Instances deleted per statement by an admin purge.
pub(crate) const PURGE_BATCH: usize = 500;

/// Default number of pooled connections per replica.
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// How the engine reaches its database.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host/db`. A secret: never logged or shown.
    pub url: String,
    /// Schema holding the tables (created if missing); `None` uses the connection's
    /// search path (normally `public`).
    pub schema: Option<String>,
    /// Connections kept by this replica.
    pub pool_size: u32,
    /// Longest time a statement may run before the database cancels it.
    pub statement_timeout: Duration,
    /// Longest wait for a free connection (or a new one) before a request fails
    /// with 503.
    pub acquire_timeout: Duration,
    /// Applies pending migrations at start (under an advisory lock).
    pub migrate: bool,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &"<secret>")
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("migrate", &self.migrate)
            .finish()
    }
}

impl PgOptions {
    /// Options for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            pool_size: DEFAULT_POOL_SIZE,
            statement_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(3),
            migrate: true,
        }
    }
}

/// Counters of the connection pool and the queries, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PgStats {
    /// Connections open.
    pub connections: u32,
    /// Connections busy with a request.
    pub in_use: u32,
    /// Requests waiting for a connection.
    pub waiting: u64,
    /// Database round trips of engine operations that finished.
    pub operations: u64,
    /// Their total time, in seconds.
    pub seconds: f64,
    /// Operations that failed on the database (unreachable, timeout, error).
    pub failures: u64,
}

/// The engine's logic over its pool; [`PgEngine`] runs it on its own runtime.
#[derive(Debug)]
pub(crate) struct Core {
    info: EngineInfo,
    models: BTreeMap<String, Arc<Model>>,
    pool: PgPool,
    limits: Limits,
    stats: meter::Meter,
    live: events::Live,
    feed_wake: Arc<tokio::sync::Notify>,
}

impl Core {
    /// Connects, applies pending migrations (unless `options.migrate` is off) and
    /// checks that the schema is one this build knows. Fails when the database cannot
    /// be reached, its schema is newer than this build, or a model is broken.
    async fn open(
        name: String,
        models: ModelSource,
        options: &PgOptions,
        limits: Limits,
    ) -> std::result::Result<Core, OpenError> {
        let models = model_map(models.load()?)?;
        let pool = schema::connect(options).await?;
        if options.migrate {
            schema::apply(&pool).await?;
        } else {
            schema::check(&pool).await?;
        }
        schema::register(&pool, &name).await?;
        tracing::info!(engine = %name, schema = ?options.schema, pool_size = options.pool_size, "PostgreSQL storage ready");
        Ok(Core {
            info: embedded_info(name),
            models,
            pool,
            limits,
            stats: meter::Meter::default(),
            live: broadcast::channel(events::LIVE_BUFFER).0,
            feed_wake: events::wake(),
        })
    }

    /// Pool and query counters.
    fn pg_stats(&self) -> PgStats {
        self.stats.snapshot(&self.pool)
    }

    fn model_of(&self, name: &str) -> Result<&Arc<Model>> {
        self.models.get(name).ok_or_else(|| {
            EngineError::not_found(format!(
                "No route found for id: {}",
                flowgate_core::shown(name)
            ))
        })
    }

    fn loaded_model(&self, name: &str, id: &str) -> Result<&Arc<Model>> {
        self.models.get(name).ok_or_else(|| ops::not_found(id))
    }

    /// Instance `id` with its tasks and model, when `cx` may read it.
    async fn visible_workflow(
        &self,
        cx: &CallContext,
        id: &str,
    ) -> Result<(WorkflowRecord, Vec<TaskRecord>, &Arc<Model>)> {
        let wid = parse_id(id).ok_or_else(|| ops::not_found(id))?;
        let (wf, tasks) = self
            .metered(read::workflow_with_tasks(&self.pool, &self.info.name, wid))
            .await?
            .ok_or_else(|| ops::not_found(id))?;
        let model = self.loaded_model(&wf.model, id)?;
        if !read::may_see_workflow(cx, &wf, &tasks) {
            return Err(ops::read_denied(cx));
        }
        Ok((wf, tasks, model))
    }
}

#[async_trait]
impl WorkflowEngine for Core {
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
        self.start_step(cx, &model, wf).await
    }

    async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance> {
        let (wf, _, model) = self.visible_workflow(cx, id).await?;
        Ok(view::workflow(model, &wf))
    }

    async fn workflows(
        &self,
        cx: &CallContext,
        q: WorkflowQuery,
    ) -> Result<Page<WorkflowInstance>> {
        let fetched = self
            .metered(read::workflows(&self.pool, &self.info.name, cx, &q))
            .await?;
        let mut out = Vec::with_capacity(fetched.rows.len());
        for wf in fetched.rows {
            if let Some(model) = self.models.get(&*wf.model) {
                out.push(view::workflow(model, &wf));
            }
        }
        Ok(match fetched.total {
            Some(total) => Page { items: out, total },
            None => q.sorted_page(out),
        })
    }

    async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        let wid = parse_id(id).ok_or_else(|| ops::not_found(id))?;
        self.cancel_step(cx, id, wid).await
    }

    async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let (wf, tasks, model) = self.visible_workflow(cx, id).await?;
        let open_nodes: HashSet<String> = tasks
            .into_iter()
            .filter(|t| t.state == TaskState::Opened)
            .map(|t| t.node_id)
            .collect();
        Ok(ops::instance_graph(model, &wf, &open_nodes))
    }

    async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        let tid = parse_id(id).ok_or_else(|| ops::not_found(id))?;
        let (t, wf) = self
            .metered(read::task(&self.pool, &self.info.name, tid))
            .await?
            .ok_or_else(|| ops::not_found(id))?;
        let model = self.loaded_model(&wf.model, id)?;
        if !view::can_see_task(cx, &wf, &t) {
            return Err(ops::read_denied(cx));
        }
        Ok(view::task(model, &wf, &t))
    }

    async fn tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        let fetched = self
            .metered(read::tasks(&self.pool, &self.info.name, cx, &q))
            .await?;
        let mut out = Vec::with_capacity(fetched.rows.len());
        for (t, wf) in fetched.rows {
            if !view::can_see_task(cx, &wf, &t) {
                continue;
            }
            if let Some(model) = self.models.get(&*wf.model) {
                out.push(view::task(model, &wf, &t));
            }
        }
        Ok(match fetched.total {
            Some(total) => Page { items: out, total },
            None => q.sorted_page(out),
        })
    }

    async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        let comment = ops::completion_comment(&c);
        let (tid, changes, model) = self
            .task_step(
                cx,
                id,
                |t, wf, model| ops::check_completion(cx, t, wf, model, &c),
                |txn, tid, (nv, wv)| {
                    txn.complete(tid, &c.action, comment, nv, wv)?;
                    Ok(tid)
                },
            )
            .await?;
        ops::task_after(&changes, &model, tid).ok_or_else(|| ops::not_found(id))
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
        self.task_step(
            cx,
            id,
            |t, wf, model| ops::check_reassign(cx, id, t, wf, model, no_actors),
            |txn, tid, ()| {
                ops::apply_reassign(txn, tid, actors, comment);
                Ok(())
            },
        )
        .await
        .map(|_| ())
    }

    async fn delegate(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let actors = ops::principals_of(&actors);
        let checked = actors.clone();
        self.task_step(
            cx,
            id,
            |t, wf, model| ops::check_delegate(cx, t, wf, model, &checked, &self.limits),
            |txn, tid, ()| {
                ops::apply_delegate(txn, tid, actors, comment);
                Ok(())
            },
        )
        .await
        .map(|_| ())
    }

    async fn document(&self, _cx: &CallContext, loc: &DocLocator) -> Result<Document> {
        match loc {
            DocLocator::Id(id) => Ok(Document {
                id: id.clone(),
                path: self
                    .metered(read::document_path(&self.pool, &self.info.name, id))
                    .await?,
                ..Document::default()
            }),
            DocLocator::Path(p) => {
                let path = if p.starts_with('/') {
                    p.clone()
                } else {
                    format!("/{p}")
                };
                let id = Uuid::new_v5(&PATH_NS, path.as_bytes()).to_string();
                self.metered(write::document_path(
                    &self.pool,
                    &self.info.name,
                    &id,
                    &path,
                ))
                .await?;
                Ok(Document {
                    id,
                    path: Some(path),
                    ..Document::default()
                })
            }
        }
    }

    async fn purge_ended(&self, cx: &CallContext, before: DateTime<Utc>) -> Result<usize> {
        if !cx.admin {
            return Err(EngineError::forbidden(
                "Only administrators may purge ended workflows",
            ));
        }
        self.purge_before(before, PURGE_BATCH).await
    }

    fn keeps_events(&self) -> bool {
        true
    }

    async fn events(&self, cx: &CallContext, q: EventQuery) -> Result<Page<Event>> {
        self.event_page(cx, &q).await
    }

    fn live_events(&self) -> Option<broadcast::Receiver<Arc<Event>>> {
        Some(self.live.subscribe())
    }

    async fn health(&self) -> Health {
        match schema::ping(&self.pool).await {
            Ok(()) => Health::Up,
            Err(e) => Health::Down(e.to_string()),
        }
    }
}
