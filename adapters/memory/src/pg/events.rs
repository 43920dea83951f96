//! The event log in PostgreSQL and its live feed.
//!
//! A step writes its events to `fg_event_inbox` in its own transaction and sends
//! `NOTIFY flowgate_events`; [`sequence`] numbers the events of finished transactions
//! in transaction order and moves them to `fg_events`. Every replica runs one
//! feed task per engine that reads the events after the last one it published, in
//! number order, whenever a notification arrives, a local step commits, or a second
//! passes; so each replica's streams carry every replica's events, once and in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flowgate_core::{CallContext, Event, EventQuery, Page, Result};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{broadcast, Notify};
use uuid::Uuid;

use super::error::damaged;
use super::{read, Core};
use crate::ops::read_denied;

/// The channel steps notify on commit.
const CHANNEL: &str = "flowgate_events";

/// Events buffered for live subscribers before a slow one starts losing them.
pub(crate) const LIVE_BUFFER: usize = 1024;

/// Most events the feed reads per query.
const FEED_BATCH: i64 = 500;

/// The columns every stored event row has, one array each, for an `UNNEST` insert:
/// time, kind, workflow, documents (JSON) and the record (JSON).
struct Columns<'a> {
    ats: Vec<DateTime<Utc>>,
    kinds: Vec<&'a str>,
    workflows: Vec<&'a str>,
    documents: Vec<String>,
    records: Vec<String>,
}

impl<'a> Columns<'a> {
    fn of(events: &'a [Event]) -> Self {
        Self {
            ats: events.iter().map(|e| e.at).collect(),
            kinds: events.iter().map(|e| e.kind.as_str()).collect(),
            workflows: events.iter().map(|e| e.workflow_id.as_str()).collect(),
            documents: events
                .iter()
                .map(|e| serde_json::to_string(&e.documents).unwrap_or_else(|_| "[]".into()))
                .collect(),
            records: events
                .iter()
                .map(|e| serde_json::to_string(e).unwrap_or_else(|_| "{}".into()))
                .collect(),
        }
    }

    /// Binds them as parameters 3 to 7 of `q`.
    fn bind<'q>(
        &'q self,
        q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        q.bind(&self.ats)
            .bind(&self.kinds)
            .bind(&self.workflows)
            .bind(&self.documents)
            .bind(&self.records)
    }
}

/// Writes a step's events to the inbox, in its transaction (numbered later by
/// [`sequence`], once the transaction has finished).
pub(crate) async fn insert(
    conn: &mut PgConnection,
    engine: &str,
    events: &mut [Event],
) -> std::result::Result<(), sqlx::Error> {
    for e in events.iter_mut() {
        e.engine = engine.to_owned();
    }
    let ords: Vec<i32> = (0..events.len())
        .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    let cols = Columns::of(events);
    let q = sqlx::query(
        "INSERT INTO fg_event_inbox (engine, ord, at, kind, workflow_id, documents, record) \
         SELECT $1, o, a, k, w, ARRAY(SELECT json_array_elements_text(d::json)), r::json \
         FROM UNNEST($2::int[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[]) \
         AS x(o, a, k, w, d, r)",
    )
    .bind(engine)
    .bind(&ords);
    cols.bind(q).execute(&mut *conn).await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(engine)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Most inbox events numbered per sequencer transaction.
const SEQUENCE_BATCH: i64 = 1000;

/// Numbers the inbox events of finished transactions, in transaction order, after the
/// engine's last number, and moves them to `fg_events`; returns how many. Sequencers
/// of several replicas take turns on the engine's row. An event of a transaction
/// still running waits, and so do the ones of later transactions.
pub(crate) async fn sequence(pool: &PgPool, engine: &str) -> std::result::Result<u64, sqlx::Error> {
    let mut total = 0u64;
    loop {
        let mut tx = pool.begin().await?;
        let last: i64 =
            sqlx::query_scalar("SELECT event_seq FROM fg_engines WHERE engine = $1 FOR UPDATE")
                .bind(engine)
                .fetch_one(&mut *tx)
                .await?;
        let n: i64 = sqlx::query_scalar(
            "WITH batch AS ( \
               SELECT tx, ord, at, kind, workflow_id, documents, record FROM fg_event_inbox \
               WHERE engine = $1 AND tx < pg_snapshot_xmin(pg_current_snapshot()) \
               ORDER BY tx, ord LIMIT $3), \
             numbered AS ( \
               SELECT *, $2 + row_number() OVER (ORDER BY tx, ord) AS seq FROM batch), \
             moved AS ( \
               INSERT INTO fg_events (engine, seq, at, kind, workflow_id, documents, record) \
               SELECT $1, seq, at, kind, workflow_id, documents, \
                      jsonb_set(record::jsonb, '{seq}', to_jsonb(seq))::json FROM numbered), \
             gone AS ( \
               DELETE FROM fg_event_inbox i USING batch b \
               WHERE i.engine = $1 AND i.tx = b.tx AND i.ord = b.ord) \
             SELECT count(*) FROM numbered",
        )
        .bind(engine)
        .bind(last)
        .bind(SEQUENCE_BATCH)
        .fetch_one(&mut *tx)
        .await?;
        if n == 0 {
            tx.rollback().await?;
            return Ok(total);
        }
        sqlx::query("UPDATE fg_engines SET event_seq = event_seq + $2 WHERE engine = $1")
            .bind(engine)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        total += u64::try_from(n).unwrap_or(0);
        if n < SEQUENCE_BATCH {
            return Ok(total);
        }
    }
}

/// Inserts events that already carry their numbers (and keeps the engine's counter
/// at or above the highest).
pub(crate) async fn insert_numbered(
    conn: &mut PgConnection,
    engine: &str,
    events: &[Event],
) -> std::result::Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| i64::try_from(e.seq).unwrap_or(i64::MAX))
        .collect();
    let cols = Columns::of(events);
    let q = sqlx::query(
        "INSERT INTO fg_events (engine, seq, at, kind, workflow_id, documents, record) \
         SELECT $1, s, a, k, w, ARRAY(SELECT json_array_elements_text(d::json)), r::json \
         FROM UNNEST($2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[]) \
         AS x(s, a, k, w, d, r) ON CONFLICT DO NOTHING",
    )
    .bind(engine)
    .bind(&seqs);
    cols.bind(q).execute(&mut *conn).await?;
    let top = seqs.iter().copied().max().unwrap_or(0);
    sqlx::query("UPDATE fg_engines SET event_seq = greatest(event_seq, $2) WHERE engine = $1")
        .bind(engine)
        .bind(top)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn decode(rows: Vec<String>) -> Result<Vec<Event>> {
    rows.iter()
        .map(|r| serde_json::from_str::<Event>(r).map_err(|e| damaged("event", e)))
        .collect()
}

/// The events of `q`, in number order, SQL doing the filtering (and the paging for
/// callers who see everything).
async fn fetch(
    pool: &PgPool,
    engine: &str,
    q: &EventQuery,
    paged: bool,
) -> std::result::Result<(Vec<String>, Option<usize>), sqlx::Error> {
    let kinds: Vec<&str> = q.kinds.iter().map(|k| k.as_str()).collect();
    let after = q.after_seq.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
    let (limit, offset) = if paged {
        (
            i64::try_from(q.page.limit).unwrap_or(i64::MAX),
            i64::try_from(q.page.offset).unwrap_or(i64::MAX),
        )
    } else {
        (i64::MAX, 0)
    };
    let from = "FROM fg_events WHERE engine = $1 \
         AND ($2::text IS NULL OR documents @> ARRAY[$2::text]) \
         AND ($3::text IS NULL OR workflow_id = $3) \
         AND (cardinality($4::text[]) = 0 OR kind = ANY($4)) \
         AND ($5::bigint IS NULL OR seq > $5) \
         AND ($6::timestamptz IS NULL OR at >= $6) \
         AND ($7::timestamptz IS NULL OR at <= $7) \
         AND ($8::text IS NULL OR record->>'principal' = $8)";
    macro_rules! bound {
        ($q:expr) => {
            $q.bind(engine)
                .bind(q.document.as_deref())
                .bind(q.workflow_id.as_deref())
                .bind(&kinds)
                .bind(after)
                .bind(q.start)
                .bind(q.end)
                .bind(q.principal.as_deref())
        };
    }
    // A feed's page is read without counting the rest of the log.
    let counted = if q.page_only && paged {
        "0::bigint"
    } else {
        "count(*) OVER ()"
    };
    let sql = format!("SELECT record::text, {counted} {from} ORDER BY seq LIMIT $9 OFFSET $10");
    let rows: Vec<(String, i64)> = bound!(sqlx::query_as(&sql))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    if q.page_only && paged {
        let read = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .saturating_add(rows.len());
        return Ok((rows.into_iter().map(|(r, _)| r).collect(), Some(read)));
    }
    let total = match rows.first() {
        Some((_, n)) => Some(usize::try_from(*n).unwrap_or(0)),
        None if offset == 0 => Some(0),
        // A page past the end: the count alone.
        None => {
            let n: i64 = bound!(sqlx::query_scalar(&format!("SELECT count(*) {from}")))
                .fetch_one(pool)
                .await?;
            Some(usize::try_from(n).unwrap_or(0))
        }
    };
    Ok((rows.into_iter().map(|(r, _)| r).collect(), total))
}

impl Core {
    /// [`flowgate_core::WorkflowEngine::events`]: administrators and power users get
    /// the page from SQL; others get the events of the workflows they may read (the
    /// rules of `@workflow`; once a workflow is purged, its initiator's).
    pub(crate) async fn event_page(&self, cx: &CallContext, q: &EventQuery) -> Result<Page<Event>> {
        let engine = &self.info.name;
        let everything = cx.admin || cx.poweruser;
        // The caller's own acknowledged steps are numbered before it reads.
        self.metered(sequence(&self.pool, engine)).await?;
        let (rows, total) = self
            .metered(fetch(&self.pool, engine, q, everything))
            .await?;
        let mut events = decode(rows)?;
        for e in &mut events {
            e.engine = engine.clone();
        }
        if everything {
            return Ok(Page {
                items: events,
                total: total.unwrap_or(0),
            });
        }
        let mut verdicts: HashMap<String, bool> = HashMap::new();
        let mut visible = Vec::with_capacity(events.len());
        let mut hidden = 0usize;
        for e in events {
            let ok = match verdicts.get(&e.workflow_id) {
                Some(v) => *v,
                None => {
                    let v = self.may_see_events_of(cx, &e).await?;
                    verdicts.insert(e.workflow_id.clone(), v);
                    v
                }
            };
            if ok {
                visible.push(e);
            } else {
                hidden += 1;
            }
        }
        if q.document.is_some() && visible.is_empty() && hidden > 0 {
            return Err(read_denied(cx));
        }
        Ok(q.page.slice(visible))
    }

    async fn may_see_events_of(&self, cx: &CallContext, e: &Event) -> Result<bool> {
        if cx.admin || cx.poweruser || e.initiator == cx.user {
            return Ok(true);
        }
        let Ok(wid) = Uuid::parse_str(&e.workflow_id) else {
            return Ok(false);
        };
        let found = self
            .metered(read::workflow_with_tasks(&self.pool, &self.info.name, wid))
            .await?;
        Ok(match found {
            Some((wf, tasks)) => read::may_see_workflow(cx, &wf, &tasks),
            None => false,
        })
    }

    /// Wakes the live feed after a local commit (it reads the new events itself).
    pub(crate) fn published(&self, events: Vec<Event>) {
        if !events.is_empty() {
            self.feed_wake.notify_one();
        }
    }

    /// Starts the live feed of this engine: reads new events from the database and
    /// publishes them on the engine's broadcast, starting after the last event that
    /// exists now. Runs until the engine is dropped.
    pub(crate) fn spawn_feed(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let engine = Arc::downgrade(self);
        let (pool, name, wake, live) = (
            self.pool.clone(),
            self.info.name.clone(),
            self.feed_wake.clone(),
            self.live.clone(),
        );
        tokio::spawn(async move {
            let mut last = loop {
                match last_seq(&pool, &name).await {
                    Ok(n) => break n,
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            };
            let mut listener = None::<PgListener>;
            loop {
                if engine.upgrade().is_none() {
                    break;
                }
                if listener.is_none() {
                    listener = listen(&pool).await;
                }
                // Number what finished steps wrote, then publish everything after
                // `last`, batch by batch.
                if let Err(e) = sequence(&pool, &name).await {
                    tracing::debug!(engine = %name, error = %e, "event sequencing failed; retrying");
                }
                loop {
                    match after(&pool, &name, last).await {
                        Ok(batch) if batch.is_empty() => break,
                        Ok(batch) => {
                            for e in batch {
                                last = e.seq;
                                let _ = live.send(Arc::new(e));
                            }
                        }
                        Err(e) => {
                            tracing::debug!(engine = %name, error = %e, "event feed read failed; retrying");
                            break;
                        }
                    }
                }
                let tick = tokio::time::sleep(Duration::from_secs(1));
                match listener.as_mut() {
                    Some(l) => {
                        tokio::select! {
                            r = l.recv() => if r.is_err() { listener = None; },
                            () = wake.notified() => {},
                            () = tick => {},
                        }
                    }
                    None => {
                        tokio::select! {
                            () = wake.notified() => {},
                            () = tick => {},
                        }
                    }
                }
            }
        })
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut l = PgListener::connect_with(pool).await.ok()?;
    l.listen(CHANNEL).await.ok()?;
    Some(l)
}

async fn last_seq(pool: &PgPool, engine: &str) -> std::result::Result<u64, sqlx::Error> {
    let n: Option<i64> = sqlx::query_scalar("SELECT event_seq FROM fg_engines WHERE engine = $1")
        .bind(engine)
        .fetch_optional(pool)
        .await?;
    Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}

async fn after(
    pool: &PgPool,
    engine: &str,
    last: u64,
) -> std::result::Result<Vec<Event>, sqlx::Error> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT record::text FROM fg_events WHERE engine = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(engine)
    .bind(i64::try_from(last).unwrap_or(i64::MAX))
    .bind(FEED_BATCH)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        match serde_json::from_str::<Event>(&r) {
            Ok(mut e) => {
                e.engine = engine.to_owned();
                out.push(e);
            }
            Err(e) => {
                tracing::warn!(engine, error = %e, "stored event does not decode; skipped on the live feed")
            }
        }
    }
    Ok(out)
}

/// Keeps the broadcast type named in one place.
pub(crate) type Live = broadcast::Sender<Arc<Event>>;

/// A fresh wake-up handle for the feed.
pub(crate) fn wake() -> Arc<Notify> {
    Arc::new(Notify::new())
}
