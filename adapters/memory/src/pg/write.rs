//! Steps: each is one transaction that locks its instance's row, reads the instance
//! and its tasks, runs the shared rules and the graph runner on working copies, and
//! writes the changed rows and the step's events before committing. Nothing is
//! written when a check refuses or the runner fails: the transaction is rolled back.
//!
//! Event numbers come from the engine's row in `fg_engines`, incremented as the last
//! statement before the commit: the row lock orders the commits that write events,
//! so a reader that saw event `n` never later finds a new event below `n`.

use std::sync::Arc;
use std::time::Instant;

use flowgate_core::{CallContext, EngineError, Event, Result, WorkflowInstance};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::error::{damaged, engine_error};
use super::Core;
use crate::model::Model;
use crate::ops::{self, parse_id};
use crate::runner::Txn;
use crate::state::{Change, TaskRecord, WorkflowRecord};
use crate::store::Store;
use crate::view;

type Tx = Transaction<'static, Postgres>;

/// A failed step: refused by the rules (nothing to undo) or by the database.
enum StepError {
    Rule(EngineError),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> Self {
        StepError::Db(e)
    }
}

impl From<EngineError> for StepError {
    fn from(e: EngineError) -> Self {
        StepError::Rule(e)
    }
}

impl Core {
    async fn begin(&self) -> Result<Tx> {
        let _waiting = self.waiting();
        self.pool.begin().await.map_err(engine_error)
    }

    /// Commits a step's transaction, counting it; failures become engine errors.
    async fn finish<T>(
        &self,
        t0: Instant,
        out: std::result::Result<(Tx, T), StepError>,
    ) -> Result<T> {
        let out = match out {
            Ok((tx, value)) => tx.commit().await.map(|()| value).map_err(StepError::Db),
            Err(e) => Err(e),
        };
        match out {
            Ok(v) => {
                self.count(t0, false);
                Ok(v)
            }
            Err(StepError::Rule(e)) => {
                self.count(t0, false);
                Err(e)
            }
            Err(StepError::Db(e)) => {
                self.count(t0, true);
                Err(engine_error(e))
            }
        }
    }

    /// Starts an instance: its name, its first steps and its events in one commit.
    pub(crate) async fn start_step(
        &self,
        cx: &CallContext,
        model: &Arc<Model>,
        wf: WorkflowRecord,
    ) -> Result<WorkflowInstance> {
        let t0 = Instant::now();
        // The name's number is taken outside the step: a failed start leaves a gap,
        // as the in-memory engine does, and starts never wait on each other for it.
        let n = self
            .metered(next_instance_number(
                &self.pool,
                &self.info.name,
                &model.name,
            ))
            .await?;
        let mut tx = self.begin().await?;
        let out = async {
            let scratch = Store::default();
            let (answer, changes) = {
                let mut txn = Txn::new(model, wf, &scratch, &cx.user);
                txn.limits = self.limits;
                txn.wf.created = txn.now;
                txn.start()?;
                txn.wf.name = ops::instance_name(&model.name, n);
                (view::workflow(model, &txn.wf), txn.into_changes())
            };
            let events = write_changes(&mut tx, &self.info.name, changes).await?;
            Ok((tx, (answer, events)))
        }
        .await;
        let (answer, events) = self.finish(t0, out).await?;
        self.published(events);
        Ok(answer)
    }

    /// Cancels an instance and its open tasks.
    pub(crate) async fn cancel_step(&self, cx: &CallContext, id: &str, wid: Uuid) -> Result<()> {
        let t0 = Instant::now();
        let mut tx = self.begin().await?;
        let out = async {
            let (wf, tasks) = lock_workflow(&mut tx, &self.info.name, wid)
                .await?
                .ok_or_else(|| ops::not_found(id))?;
            let model = self.loaded_model(&wf.model, id)?;
            ops::check_cancel(cx, id, &wf)?;
            let scratch = scratch_of(&wf, tasks);
            let changes = {
                let mut txn = Txn::new(model, wf, &scratch, &cx.user);
                txn.limits = self.limits;
                txn.cancel();
                txn.into_changes()
            };
            let events = write_changes(&mut tx, &self.info.name, changes).await?;
            Ok((tx, events))
        }
        .await;
        let events = self.finish(t0, out).await?;
        self.published(events);
        Ok(())
    }

    /// Runs a task operation in one transaction: `check` sees the current records and
    /// may refuse; `act` changes the working copies. Returns `act`'s result, the
    /// committed changes and the instance's model.
    pub(crate) async fn task_step<C, R>(
        &self,
        cx: &CallContext,
        id: &str,
        check: impl FnOnce(&TaskRecord, &WorkflowRecord, &Model) -> Result<C>,
        act: impl FnOnce(&mut Txn<'_>, Uuid, C) -> Result<R>,
    ) -> Result<(R, Vec<Change>, Arc<Model>)> {
        let tid = parse_id(id).ok_or_else(|| ops::not_found(id))?;
        let t0 = Instant::now();
        let mut tx = self.begin().await?;
        let out = async {
            let (wf, tasks) = lock_task_workflow(&mut tx, &self.info.name, tid)
                .await?
                .ok_or_else(|| ops::not_found(id))?;
            let model = self.loaded_model(&wf.model, id)?.clone();
            let t = tasks
                .iter()
                .find(|t| t.id == tid)
                .cloned()
                .ok_or_else(|| ops::not_found(id))?;
            let checked = check(&t, &wf, &model)?;
            let scratch = scratch_of(&wf, tasks);
            let (result, changes) = {
                let mut txn = Txn::new(&model, wf, &scratch, &cx.user);
                txn.limits = self.limits;
                txn.adopt(t);
                let r = act(&mut txn, tid, checked)?;
                (r, txn.into_changes())
            };
            let kept: Vec<Change> = changes
                .iter()
                .filter(|c| !matches!(c, Change::Event(_)))
                .cloned()
                .collect();
            let events = write_changes(&mut tx, &self.info.name, changes).await?;
            Ok((tx, (result, kept, model, events)))
        }
        .await;
        let (result, kept, model, events) = self.finish(t0, out).await?;
        self.published(events);
        Ok((result, kept, model))
    }

    /// Runs `step` on a locked running instance for a background job (escalation);
    /// `None` when the instance is busy, gone or has nothing to do.
    pub(crate) async fn job_step(
        &self,
        wid: Uuid,
        step: impl FnOnce(&mut Txn<'_>) -> Result<bool>,
    ) -> Result<bool> {
        let t0 = Instant::now();
        let mut tx = self.begin().await?;
        let out = async {
            let Some((wf, tasks)) =
                lock_workflow_skip_locked(&mut tx, &self.info.name, wid).await?
            else {
                return Ok((tx, (false, Vec::new())));
            };
            let Some(model) = self.models.get(&*wf.model).cloned() else {
                return Ok((tx, (false, Vec::new())));
            };
            if !ops::may_escalate(&wf, &model) {
                return Ok((tx, (false, Vec::new())));
            }
            let scratch = scratch_of(&wf, tasks);
            let initiator = wf.initiator.clone();
            let (moved, changes) = {
                let mut txn = Txn::new(&model, wf, &scratch, &initiator);
                txn.limits = self.limits;
                let moved = step(&mut txn)?;
                (
                    moved,
                    if moved {
                        txn.into_changes()
                    } else {
                        Vec::new()
                    },
                )
            };
            let events = write_changes(&mut tx, &self.info.name, changes).await?;
            Ok((tx, (moved, events)))
        }
        .await;
        let (moved, events) = self.finish(t0, out).await?;
        self.published(events);
        Ok(moved)
    }
}

/// A store holding one instance and its tasks: what a step's runner reads.
fn scratch_of(wf: &WorkflowRecord, tasks: Vec<TaskRecord>) -> Store {
    let store = Store::default();
    let mut changes: Vec<Change> = Vec::with_capacity(tasks.len() + 1);
    changes.push(Change::Workflow(wf.clone()));
    changes.extend(tasks.into_iter().map(Change::Task));
    store.apply(changes);
    store
}

/// The next instance number of `model` (1 for the first).
async fn next_instance_number(
    pool: &PgPool,
    engine: &str,
    model: &str,
) -> std::result::Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "INSERT INTO fg_instance_counters (engine, model, started) VALUES ($1, $2, 1) \
         ON CONFLICT (engine, model) DO UPDATE SET started = fg_instance_counters.started + 1 \
         RETURNING started",
    )
    .bind(engine)
    .bind(model)
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn decode_workflow(text: &str) -> std::result::Result<WorkflowRecord, StepError> {
    serde_json::from_str(text).map_err(|e| StepError::Rule(damaged("workflow", e)))
}

fn decode_tasks(rows: Vec<String>) -> std::result::Result<Vec<TaskRecord>, StepError> {
    rows.iter()
        .map(|t| serde_json::from_str(t).map_err(|e| StepError::Rule(damaged("task", e))))
        .collect()
}

async fn tasks_of(
    conn: &mut PgConnection,
    engine: &str,
    wid: Uuid,
) -> std::result::Result<Vec<TaskRecord>, StepError> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT record::text FROM fg_tasks WHERE engine = $1 AND workflow_id = $2",
    )
    .bind(engine)
    .bind(wid)
    .fetch_all(&mut *conn)
    .await?;
    decode_tasks(rows)
}

type Locked = Option<(WorkflowRecord, Vec<TaskRecord>)>;

/// Runs `sql` (one `$1` engine, one `$2` id, locking one instance row) and returns the
/// instance it locked with its tasks as they are now.
async fn lock_with(
    tx: &mut Tx,
    engine: &str,
    id: Uuid,
    sql: &'static str,
) -> std::result::Result<Locked, StepError> {
    let row: Option<String> = sqlx::query_scalar(sql)
        .bind(engine)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(text) = row else {
        return Ok(None);
    };
    let wf = decode_workflow(&text)?;
    let tasks = tasks_of(tx, engine, wf.id).await?;
    Ok(Some((wf, tasks)))
}

/// Locks the instance owning task `tid`.
async fn lock_task_workflow(
    tx: &mut Tx,
    engine: &str,
    tid: Uuid,
) -> std::result::Result<Locked, StepError> {
    lock_with(
        tx,
        engine,
        tid,
        "SELECT w.record::text FROM fg_workflows w \
         WHERE w.engine = $1 AND w.id = (SELECT workflow_id FROM fg_tasks WHERE engine = $1 AND id = $2) \
         FOR UPDATE",
    )
    .await
}

/// Locks instance `wid`.
async fn lock_workflow(
    tx: &mut Tx,
    engine: &str,
    wid: Uuid,
) -> std::result::Result<Locked, StepError> {
    lock_with(
        tx,
        engine,
        wid,
        "SELECT record::text FROM fg_workflows WHERE engine = $1 AND id = $2 FOR UPDATE",
    )
    .await
}

/// Locks running instance `wid` unless another transaction holds it.
async fn lock_workflow_skip_locked(
    tx: &mut Tx,
    engine: &str,
    wid: Uuid,
) -> std::result::Result<Locked, StepError> {
    lock_with(
        tx,
        engine,
        wid,
        "SELECT record::text FROM fg_workflows WHERE engine = $1 AND id = $2 AND state = 'running' \
         FOR UPDATE SKIP LOCKED",
    )
    .await
}

fn text_of<T: serde::Serialize>(value: &T) -> std::result::Result<String, StepError> {
    serde_json::to_string(value).map_err(|e| {
        StepError::Rule(EngineError::Unavailable(format!(
            "A record could not be written: {e}"
        )))
    })
}

fn state_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Writes a step's changes in `conn`'s transaction and returns its events, numbered.
/// Instances go first (their tasks refer to them), events last.
async fn write_changes(
    conn: &mut PgConnection,
    engine: &str,
    changes: Vec<Change>,
) -> std::result::Result<Vec<Event>, StepError> {
    let mut events = Vec::new();
    let mut tasks = Vec::new();
    let mut rest = Vec::new();
    for c in changes {
        match c {
            Change::Workflow(w) => put_workflow(conn, engine, &w).await?,
            Change::Task(t) => tasks.push(t),
            Change::Event(e) => events.push(*e),
            other => rest.push(other),
        }
    }
    for t in &tasks {
        put_task(conn, engine, t).await?;
    }
    for c in rest {
        match c {
            Change::DocumentPath { id, path } => {
                sqlx::query(
                    "INSERT INTO fg_document_paths (engine, id, path) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(engine)
                .bind(&id)
                .bind(&path)
                .execute(&mut *conn)
                .await?;
            }
            Change::Purge { workflow, .. } => {
                sqlx::query("DELETE FROM fg_workflows WHERE engine = $1 AND id = $2")
                    .bind(engine)
                    .bind(workflow)
                    .execute(&mut *conn)
                    .await?;
            }
            _ => {}
        }
    }
    if !events.is_empty() {
        super::events::insert(conn, engine, &mut events).await?;
    }
    Ok(events)
}

async fn put_workflow(
    conn: &mut PgConnection,
    engine: &str,
    w: &WorkflowRecord,
) -> std::result::Result<(), StepError> {
    let record = text_of(w)?;
    sqlx::query(
        "INSERT INTO fg_workflows (engine, id, model, name, initiator, documents, state, created, ended, record) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::json) \
         ON CONFLICT (engine, id) DO UPDATE SET name = EXCLUDED.name, documents = EXCLUDED.documents, \
         state = EXCLUDED.state, ended = EXCLUDED.ended, record = EXCLUDED.record",
    )
    .bind(engine)
    .bind(w.id)
    .bind(&*w.model)
    .bind(&w.name)
    .bind(&w.initiator)
    .bind(&w.documents)
    .bind(state_of(&w.state))
    .bind(w.created)
    .bind(w.ended)
    .bind(record)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn put_task(
    conn: &mut PgConnection,
    engine: &str,
    t: &TaskRecord,
) -> std::result::Result<(), StepError> {
    let record = text_of(t)?;
    let principals: Vec<&String> = t.principals().collect();
    sqlx::query(
        "INSERT INTO fg_tasks (engine, id, workflow_id, state, principals, initiator, created, due, record) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::json) \
         ON CONFLICT (engine, id) DO UPDATE SET state = EXCLUDED.state, principals = EXCLUDED.principals, \
         due = EXCLUDED.due, record = EXCLUDED.record",
    )
    .bind(engine)
    .bind(t.id)
    .bind(t.workflow_id)
    .bind(t.state.as_str())
    .bind(principals)
    .bind(&t.initiator)
    .bind(t.created)
    .bind(t.due)
    .bind(record)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Remembers the path a document id was derived from.
pub(crate) async fn document_path(
    pool: &PgPool,
    engine: &str,
    id: &str,
    path: &str,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO fg_document_paths (engine, id, path) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(engine)
    .bind(id)
    .bind(path)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Writes already-numbered changes copied from another store (see `copy`).
pub(crate) async fn copy_changes(
    conn: &mut PgConnection,
    engine: &str,
    changes: Vec<Change>,
) -> Result<()> {
    let mut events = Vec::new();
    let mut others = Vec::new();
    for c in changes {
        match c {
            Change::Event(e) => events.push(*e),
            other => others.push(other),
        }
    }
    match write_changes(conn, engine, others).await {
        Ok(_) => {}
        Err(StepError::Rule(e)) => return Err(e),
        Err(StepError::Db(e)) => return Err(engine_error(e)),
    }
    super::events::insert_numbered(conn, engine, &events)
        .await
        .map_err(engine_error)
}
