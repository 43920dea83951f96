//! `flowgate migrate --from <data_dir> --to <database_url>`: copies an embedded
//! engine's redb store into PostgreSQL, in one transaction. The target must not hold
//! workflows of that engine yet; events keep their numbers, so clients resuming a
//! stream with `Last-Event-ID` go on where they were.

use std::path::Path;

use flowgate_core::{EventQuery, PageRequest};
use sqlx::Connection;

use super::schema;
use super::write::copy_changes;
use super::{PgError, PgOptions};
use crate::state::Change;
use crate::storage::{RedbStorage, Storage, DEFAULT_SNAPSHOT_THRESHOLD};
use crate::store::Store;

/// What a copy moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Workflow instances.
    pub workflows: usize,
    /// Tasks.
    pub tasks: usize,
    /// Events.
    pub events: usize,
    /// Document paths.
    pub document_paths: usize,
}

/// Copies the store in `data_dir` into the database of `options` as engine `engine`.
pub async fn copy_redb(
    data_dir: &Path,
    options: &PgOptions,
    engine: &str,
) -> Result<CopyReport, PgError> {
    if !data_dir.join(crate::storage::DATA_FILE).is_file() {
        return Err(PgError::Statement(format!(
            "'{}' holds no flowgate data file ({})",
            data_dir.display(),
            crate::storage::DATA_FILE
        )));
    }
    let storage = RedbStorage::open(data_dir, DEFAULT_SNAPSHOT_THRESHOLD)
        .map_err(|e| PgError::Statement(e.to_string()))?;
    let loaded = storage
        .load()
        .map_err(|e| PgError::Statement(e.to_string()))?;
    drop(storage);
    let mut paths = Vec::new();
    let store = Store::default();
    for c in &loaded.changes {
        if let Change::DocumentPath { id, path } = c {
            paths.push(Change::DocumentPath {
                id: id.clone(),
                path: path.clone(),
            });
        }
    }
    store.apply(loaded.changes);
    let mut report = CopyReport {
        document_paths: paths.len(),
        ..CopyReport::default()
    };
    let mut changes: Vec<Change> = Vec::new();
    for id in store.all_workflows() {
        if let Some(wf) = store.workflow(&id) {
            changes.push(Change::Workflow((*wf).clone()));
            report.workflows += 1;
        }
    }
    for id in store.all_task_ids() {
        if let Some(t) = store.task(&id) {
            changes.push(Change::Task(t));
            report.tasks += 1;
        }
    }
    changes.extend(paths);
    let events = store.events().query(
        &EventQuery {
            page: PageRequest::all(),
            ..EventQuery::default()
        },
        |_| true,
    );
    report.events = events.items.len();
    changes.extend(events.items.into_iter().map(Change::event));

    let pool = schema::connect(options).await?;
    schema::apply(&pool).await?;
    schema::register(&pool, engine).await?;
    let fail = |e: sqlx::Error| PgError::Statement(e.to_string());
    let mut conn = pool.acquire().await.map_err(fail)?;
    let mut tx = conn.begin().await.map_err(fail)?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM fg_workflows WHERE engine = $1")
        .bind(engine)
        .fetch_one(&mut *tx)
        .await
        .map_err(fail)?;
    if existing > 0 {
        return Err(PgError::Statement(format!(
            "the database already holds {existing} workflows of engine '{engine}'; copy into an empty database or schema"
        )));
    }
    copy_changes(&mut tx, engine, changes)
        .await
        .map_err(|e| PgError::Statement(e.to_string()))?;
    tx.commit().await.map_err(fail)?;
    drop(conn);
    pool.close().await;
    Ok(report)
}
