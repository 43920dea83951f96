//! Reads: every query filters in SQL on indexed columns (actor principals, instance,
//! document, initiator, model, open/running state) and the caller's visibility, so
//! its cost follows its result. Lists in the inbox order, or sorted by due date or
//! creation time, are also ordered and paged by SQL; a sort on names is done here on
//! the (already filtered) result.

use flowgate_core::access;
use flowgate_core::order::{TaskSortKey, WorkflowSortKey};
use flowgate_core::{ActorFilter, CallContext, TaskQuery, WorkflowQuery};
use sqlx::PgPool;
use uuid::Uuid;

use crate::state::{TaskRecord, WorkflowRecord};
use crate::view;

type Sql<T> = std::result::Result<T, sqlx::Error>;

/// Rows of a list query; `total` is set when SQL did the paging.
pub(crate) struct Fetched<T> {
    pub rows: Vec<T>,
    pub total: Option<usize>,
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Sql<T> {
    serde_json::from_str(text).map_err(|e| {
        tracing::error!(record = what, error = %e, "stored record does not decode");
        sqlx::Error::Decode(Box::new(e))
    })
}

/// Read access to an instance, given all its tasks.
pub(crate) fn may_see_workflow(
    cx: &CallContext,
    wf: &WorkflowRecord,
    tasks: &[TaskRecord],
) -> bool {
    cx.admin
        || cx.poweruser
        || wf.initiator == cx.user
        || access::may_see_workflow(
            cx,
            Some(&wf.initiator),
            tasks.iter().map(|t| view::parties(wf, t)),
        )
}

/// One task with its instance.
pub(crate) async fn task(
    pool: &PgPool,
    engine: &str,
    tid: Uuid,
) -> Sql<Option<(TaskRecord, WorkflowRecord)>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT t.record::text, w.record::text FROM fg_tasks t \
         JOIN fg_workflows w ON w.engine = t.engine AND w.id = t.workflow_id \
         WHERE t.engine = $1 AND t.id = $2",
    )
    .bind(engine)
    .bind(tid)
    .fetch_optional(pool)
    .await?;
    match row {
        Some((t, w)) => Ok(Some((decode("task", &t)?, decode("workflow", &w)?))),
        None => Ok(None),
    }
}

/// One instance with all its tasks.
pub(crate) async fn workflow_with_tasks(
    pool: &PgPool,
    engine: &str,
    wid: Uuid,
) -> Sql<Option<(WorkflowRecord, Vec<TaskRecord>)>> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT w.record::text, t.record::text FROM fg_workflows w \
         LEFT JOIN fg_tasks t ON t.engine = w.engine AND t.workflow_id = w.id \
         WHERE w.engine = $1 AND w.id = $2",
    )
    .bind(engine)
    .bind(wid)
    .fetch_all(pool)
    .await?;
    let Some((w, _)) = rows.first() else {
        return Ok(None);
    };
    let wf: WorkflowRecord = decode("workflow", w)?;
    let mut tasks = Vec::with_capacity(rows.len());
    for (_, t) in &rows {
        if let Some(t) = t {
            tasks.push(decode("task", t)?);
        }
    }
    Ok(Some((wf, tasks)))
}

/// The path a document id was derived from.
pub(crate) async fn document_path(pool: &PgPool, engine: &str, id: &str) -> Sql<Option<String>> {
    sqlx::query_scalar("SELECT path FROM fg_document_paths WHERE engine = $1 AND id = $2")
        .bind(engine)
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The spellings under which `cx` (or an actor filter) may appear on a task.
fn principals(user: &str, groups: &[String]) -> Vec<String> {
    ActorFilter {
        user: user.to_owned(),
        groups: groups.to_vec(),
    }
    .principals()
}

/// `ORDER BY` of a task list SQL can sort, or `None` for a sort done here.
fn task_order(q: &TaskQuery) -> Option<&'static str> {
    let Some(s) = &q.sort else {
        return Some("t.due ASC NULLS LAST, t.created, t.id");
    };
    Some(match (s.key, s.descending) {
        (TaskSortKey::DueDate, false) => "t.due ASC NULLS LAST, t.created, t.id",
        (TaskSortKey::DueDate, true) => "t.due DESC NULLS LAST, t.created, t.id",
        (TaskSortKey::Created, false) => "t.created ASC, t.due ASC NULLS LAST, t.id",
        (TaskSortKey::Created, true) => "t.created DESC, t.due ASC NULLS LAST, t.id",
        (TaskSortKey::Name, _) => return None,
    })
}

/// Tasks matching `q` that `cx` may see, with their instances.
pub(crate) async fn tasks(
    pool: &PgPool,
    engine: &str,
    cx: &CallContext,
    q: &TaskQuery,
) -> Sql<Fetched<(TaskRecord, WorkflowRecord)>> {
    let workflow = match &q.workflow_id {
        Some(w) => match crate::ops::parse_id(w) {
            Some(id) => Some(id),
            None => {
                return Ok(Fetched {
                    rows: Vec::new(),
                    total: Some(0),
                })
            }
        },
        None => None,
    };
    let actor = q.actor.as_ref().map(|f| f.principals());
    let me = (!cx.admin).then(|| principals(&cx.user, &cx.groups));
    let order = task_order(q);
    let (limit, offset) = match order {
        Some(_) => (
            i64::try_from(q.page.limit).unwrap_or(i64::MAX),
            i64::try_from(q.page.offset).unwrap_or(i64::MAX),
        ),
        None => (i64::MAX, 0),
    };
    let from = "FROM fg_tasks t \
         JOIN fg_workflows w ON w.engine = t.engine AND w.id = t.workflow_id \
         WHERE t.engine = $1 \
         AND (NOT $2 OR t.state = 'opened') \
         AND ($3::uuid IS NULL OR t.workflow_id = $3) \
         AND ($4::text[] IS NULL OR t.principals && $4) \
         AND ($5::text IS NULL OR w.documents @> ARRAY[$5::text]) \
         AND ($6::text IS NULL OR w.model = $6) \
         AND ($7::text[] IS NULL OR t.principals && $7 OR w.initiator = $8 OR t.initiator = $8)";
    macro_rules! bound {
        ($q:expr) => {
            $q.bind(engine)
                .bind(q.open_only)
                .bind(workflow)
                .bind(&actor)
                .bind(q.document.as_deref())
                .bind(q.model_name.as_deref())
                .bind(&me)
                .bind(&cx.user)
        };
    }
    let sql = format!(
        "SELECT t.record::text, w.record::text, count(*) OVER () {from} ORDER BY {} LIMIT $9 OFFSET $10",
        order.unwrap_or("t.id")
    );
    let rows: Vec<(String, String, i64)> = bound!(sqlx::query_as(&sql))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let total = match (order, rows.first()) {
        (None, _) => None,
        (Some(_), Some((_, _, n))) => Some(usize::try_from(*n).unwrap_or(0)),
        (Some(_), None) if offset == 0 => Some(0),
        (Some(_), None) => {
            // A page past the end: the count alone.
            let n: i64 = bound!(sqlx::query_scalar(&format!("SELECT count(*) {from}")))
                .fetch_one(pool)
                .await?;
            Some(usize::try_from(n).unwrap_or(0))
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for (t, w, _) in rows {
        out.push((decode("task", &t)?, decode("workflow", &w)?));
    }
    Ok(Fetched { rows: out, total })
}

/// Instances matching `q` that `cx` may see.
pub(crate) async fn workflows(
    pool: &PgPool,
    engine: &str,
    cx: &CallContext,
    q: &WorkflowQuery,
) -> Sql<Fetched<WorkflowRecord>> {
    let order = match &q.sort {
        None => Some("w.created, w.id"),
        Some(s) => match (s.key, s.descending) {
            (WorkflowSortKey::Created, false) => Some("w.created, w.id"),
            (WorkflowSortKey::Created, true) => Some("w.created DESC, w.id"),
            _ => None,
        },
    };
    let (limit, offset) = match order {
        Some(_) => (
            i64::try_from(q.page.limit).unwrap_or(i64::MAX),
            i64::try_from(q.page.offset).unwrap_or(i64::MAX),
        ),
        None => (i64::MAX, 0),
    };
    let me = (!(cx.admin || cx.poweruser)).then(|| principals(&cx.user, &cx.groups));
    let from = "FROM fg_workflows w \
         WHERE w.engine = $1 \
         AND (NOT $2 OR w.state = 'running') \
         AND ($3::text IS NULL OR w.initiator = $3) \
         AND ($4::text IS NULL OR w.documents @> ARRAY[$4::text]) \
         AND ($5::text IS NULL OR w.model = $5) \
         AND ($6::text[] IS NULL OR w.initiator = $7 OR EXISTS ( \
              SELECT 1 FROM fg_tasks t WHERE t.engine = w.engine AND t.workflow_id = w.id \
              AND t.principals && $6))";
    macro_rules! bound {
        ($q:expr) => {
            $q.bind(engine)
                .bind(q.running_only)
                .bind(q.initiator.as_deref())
                .bind(q.document.as_deref())
                .bind(q.model_name.as_deref())
                .bind(&me)
                .bind(&cx.user)
        };
    }
    let sql = format!(
        "SELECT w.record::text, count(*) OVER () {from} ORDER BY {} LIMIT $8 OFFSET $9",
        order.unwrap_or("w.id")
    );
    let rows: Vec<(String, i64)> = bound!(sqlx::query_as(&sql))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let total = match (order, rows.first()) {
        (None, _) => None,
        (Some(_), Some((_, n))) => Some(usize::try_from(*n).unwrap_or(0)),
        (Some(_), None) if offset == 0 => Some(0),
        (Some(_), None) => {
            let n: i64 = bound!(sqlx::query_scalar(&format!("SELECT count(*) {from}")))
                .fetch_one(pool)
                .await?;
            Some(usize::try_from(n).unwrap_or(0))
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for (w, _) in rows {
        out.push(decode("workflow", &w)?);
    }
    Ok(Fetched { rows: out, total })
}
