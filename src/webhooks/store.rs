//! Durable delivery state of the webhook endpoints, behind [`WebhookStore`].
//!
//! Per endpoint: a cursor per engine (the last event sequence number settled:
//! delivered, dead-lettered or not wanted), the retry state of the event being
//! delivered, the recent attempts, the last success and failure, and the dead
//! letters. Each change the dispatcher makes is one [`Update`] applied atomically, so
//! a cursor never moves without the record of why.
//!
//! Two backends: [`RedbStore`] (`webhooks.redb`, every update committed with an fsync
//! before the dispatcher goes on) and [`MemoryStore`] (the state ends with the process).
//! Another backend implements the trait; the dispatcher and the admin API use nothing
//! else.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// Attempts kept per endpoint for `GET /admin/webhooks/{name}/deliveries`.
pub const RECENT_KEPT: usize = 200;

/// A store operation failed (disk, damaged file).
#[derive(Debug, Clone, thiserror::Error)]
#[error("webhook store: {0}")]
pub struct StoreError(pub String);

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// How one attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It failed; another attempt follows.
    Failed,
    /// It failed and the retry budget is spent: the event is dead-lettered.
    DeadLettered,
}

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// The `webhook-id`.
    pub id: String,
    /// The event's stable id (`<engine>:<seq>`).
    pub event_id: String,
    /// The routing event id.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the attempt ended.
    pub at: DateTime<Utc>,
    /// 1 for the first attempt at this event (counted again from 1 after a retry
    /// requested by an administrator).
    pub attempt: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// The receiver's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Time of the attempt, in milliseconds.
    pub duration_ms: u64,
}

/// Retry state of the event being delivered (so that a restart keeps its clock).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// The `webhook-id`.
    pub id: String,
    /// The event's stable id.
    pub event_id: String,
    /// The first attempt: the retry budget (`max_age`) counts from it.
    pub first_attempt: DateTime<Utc>,
    /// Attempts so far.
    pub attempts: u32,
    /// Why the last one failed.
    pub last_error: String,
}

/// Whether a dead letter waits or was sent back to the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterState {
    /// Kept; nothing more is tried.
    Dead,
    /// An administrator asked for another delivery; the dispatcher takes it next.
    Requeued,
}

/// An event whose delivery failed for `max_age`, kept with its payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The `webhook-id`.
    pub id: String,
    /// The event's stable id.
    pub event_id: String,
    /// The routing event id.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the event was committed.
    pub event_at: DateTime<Utc>,
    /// The exact body delivered (JSON text), so that a retry sends the same payload.
    pub body: String,
    /// First attempt.
    pub first_attempt: DateTime<Utc>,
    /// Last attempt.
    pub last_attempt: DateTime<Utc>,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: String,
    /// Waiting, or sent back to the queue.
    pub state: LetterState,
    /// When it was sent back to the queue, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeued_at: Option<DateTime<Utc>>,
}

/// The last success and the last failure of an endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastOutcomes {
    /// Last delivered attempt.
    pub last_success: Option<Attempt>,
    /// Last failed attempt.
    pub last_failure: Option<Attempt>,
}

impl LastOutcomes {
    /// Takes in `attempts`, oldest first.
    pub fn fold(&mut self, attempts: &[Attempt]) {
        for a in attempts {
            if a.outcome == Outcome::Delivered {
                self.last_success = Some(a.clone());
            } else {
                self.last_failure = Some(a.clone());
            }
        }
    }
}

/// One atomic change of an endpoint's state.
#[derive(Clone, Debug, Default)]
pub struct Update {
    /// Cursors moved: (engine, sequence number settled).
    pub cursors: Vec<(String, u64)>,
    /// `Some(None)` clears the retry state, `Some(Some(p))` sets it.
    pub pending: Option<Option<Pending>>,
    /// Attempts to record, oldest first.
    pub attempts: Vec<Attempt>,
    /// A dead letter added or replaced (by id).
    pub put_letter: Option<DeadLetter>,
    /// A dead letter removed (by id).
    pub remove_letter: Option<String>,
}

/// Where the delivery state of webhook endpoints is kept. Calls may block on disk:
/// async callers run them on a blocking thread.
pub trait WebhookStore: Send + Sync + std::fmt::Debug + 'static {
    /// Whether the state survives a restart.
    fn persistent(&self) -> bool;
    /// Whether this process may deliver to `endpoint` now. A store shared by several
    /// replicas lets one at a time; the others ask again later.
    fn claim(&self, endpoint: &str) -> Result<bool, StoreError> {
        let _ = endpoint;
        Ok(true)
    }
    /// Applies `u` to `endpoint`'s state, all or nothing.
    fn apply(&self, endpoint: &str, u: &Update) -> Result<(), StoreError>;
    /// Per engine, the last sequence number settled.
    fn cursors(&self, endpoint: &str) -> Result<BTreeMap<String, u64>, StoreError>;
    /// The retry state of the event being delivered.
    fn pending(&self, endpoint: &str) -> Result<Option<Pending>, StoreError>;
    /// The last `limit` attempts, newest first.
    fn recent(&self, endpoint: &str, limit: usize) -> Result<Vec<Attempt>, StoreError>;
    /// The last success and failure.
    fn last(&self, endpoint: &str) -> Result<LastOutcomes, StoreError>;
    /// Dead letters, oldest first.
    fn letters(&self, endpoint: &str) -> Result<Vec<DeadLetter>, StoreError>;
}

/// `(endpoint, engine)` → sequence number.
const CURSORS: TableDefinition<(&str, &str), u64> = TableDefinition::new("webhook_cursors");
/// `endpoint` → JSON of [`Pending`].
const PENDING: TableDefinition<&str, &[u8]> = TableDefinition::new("webhook_pending");
/// `(endpoint, number)` → JSON of [`Attempt`], numbers growing.
const ATTEMPTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("webhook_attempts");
/// `endpoint` → JSON of [`LastOutcomes`].
const LAST: TableDefinition<&str, &[u8]> = TableDefinition::new("webhook_last");
/// `(endpoint, webhook-id)` → JSON of [`DeadLetter`].
const LETTERS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("webhook_letters");
/// `format` → version of this file's layout.
const META: TableDefinition<&str, u64> = TableDefinition::new("webhook_meta");

/// Version of the layout above.
const FORMAT: u64 = 1;

/// The state in a redb file (`webhooks.redb`).
pub struct RedbStore {
    db: Database,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(err)
}

fn parse<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(err)
}

impl RedbStore {
    /// Opens (or creates) the file at `path`; refuses a file of a later layout.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db =
            Database::create(path).map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(err)?;
        {
            let mut meta = txn.open_table(META).map_err(err)?;
            let found = meta.get("format").map_err(err)?.map(|v| v.value());
            match found {
                Some(v) if v > FORMAT => {
                    return Err(StoreError(format!(
                        "{}: layout version {v} is newer than this build's ({FORMAT})",
                        path.display()
                    )))
                }
                Some(_) => {}
                None => {
                    meta.insert("format", FORMAT).map_err(err)?;
                }
            }
            txn.open_table(CURSORS).map_err(err)?;
            txn.open_table(PENDING).map_err(err)?;
            txn.open_table(ATTEMPTS).map_err(err)?;
            txn.open_table(LAST).map_err(err)?;
            txn.open_table(LETTERS).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(Self {
            db,
            path: path.to_owned(),
        })
    }
}

impl WebhookStore for RedbStore {
    fn persistent(&self) -> bool {
        true
    }

    fn apply(&self, endpoint: &str, u: &Update) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut cursors = txn.open_table(CURSORS).map_err(err)?;
            for (engine, seq) in &u.cursors {
                cursors
                    .insert((endpoint, engine.as_str()), *seq)
                    .map_err(err)?;
            }
            match &u.pending {
                Some(Some(p)) => {
                    let mut t = txn.open_table(PENDING).map_err(err)?;
                    t.insert(endpoint, json(p)?.as_slice()).map_err(err)?;
                }
                Some(None) => {
                    let mut t = txn.open_table(PENDING).map_err(err)?;
                    t.remove(endpoint).map_err(err)?;
                }
                None => {}
            }
            if !u.attempts.is_empty() {
                let mut t = txn.open_table(ATTEMPTS).map_err(err)?;
                let range = (endpoint, 0u64)..=(endpoint, u64::MAX);
                let (first, mut next) = {
                    let mut it = t.range(range.clone()).map_err(err)?;
                    let first = it
                        .next()
                        .transpose()
                        .map_err(err)?
                        .map(|(k, _)| k.value().1);
                    let last = it
                        .next_back()
                        .transpose()
                        .map_err(err)?
                        .map(|(k, _)| k.value().1)
                        .or(first);
                    (first, last.map_or(0, |n| n + 1))
                };
                for a in &u.attempts {
                    t.insert((endpoint, next), json(a)?.as_slice())
                        .map_err(err)?;
                    next += 1;
                }
                // Keep the last RECENT_KEPT: numbers are contiguous.
                if let Some(first) = first {
                    let keep_from = next.saturating_sub(RECENT_KEPT as u64);
                    for n in first..keep_from {
                        t.remove((endpoint, n)).map_err(err)?;
                    }
                }
                let mut last = txn.open_table(LAST).map_err(err)?;
                let mut l: LastOutcomes = match last.get(endpoint).map_err(err)? {
                    Some(v) => parse(v.value())?,
                    None => LastOutcomes::default(),
                };
                l.fold(&u.attempts);
                last.insert(endpoint, json(&l)?.as_slice()).map_err(err)?;
            }
            if u.put_letter.is_some() || u.remove_letter.is_some() {
                let mut t = txn.open_table(LETTERS).map_err(err)?;
                if let Some(id) = &u.remove_letter {
                    t.remove((endpoint, id.as_str())).map_err(err)?;
                }
                if let Some(l) = &u.put_letter {
                    t.insert((endpoint, l.id.as_str()), json(l)?.as_slice())
                        .map_err(err)?;
                }
            }
        }
        txn.commit().map_err(err)
    }

    fn cursors(&self, endpoint: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(CURSORS).map_err(err)?;
        let mut out = BTreeMap::new();
        for row in t.range((endpoint, "")..).map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let (ep, engine) = k.value();
            if ep != endpoint {
                break;
            }
            out.insert(engine.to_owned(), v.value());
        }
        Ok(out)
    }

    fn pending(&self, endpoint: &str) -> Result<Option<Pending>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(PENDING).map_err(err)?;
        let v = t.get(endpoint).map_err(err)?;
        v.map(|v| parse(v.value())).transpose()
    }

    fn recent(&self, endpoint: &str, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(ATTEMPTS).map_err(err)?;
        let mut out = Vec::new();
        for row in t
            .range((endpoint, 0u64)..=(endpoint, u64::MAX))
            .map_err(err)?
            .rev()
            .take(limit)
        {
            let (_, v) = row.map_err(err)?;
            out.push(parse(v.value())?);
        }
        Ok(out)
    }

    fn last(&self, endpoint: &str) -> Result<LastOutcomes, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(LAST).map_err(err)?;
        let v = t.get(endpoint).map_err(err)?;
        Ok(v.map(|v| parse(v.value())).transpose()?.unwrap_or_default())
    }

    fn letters(&self, endpoint: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(LETTERS).map_err(err)?;
        let mut out: Vec<DeadLetter> = Vec::new();
        for row in t.range((endpoint, "")..).map_err(err)? {
            let (k, v) = row.map_err(err)?;
            if k.value().0 != endpoint {
                break;
            }
            out.push(parse(v.value())?);
        }
        out.sort_by(|a, b| (a.event_at, &a.event_id).cmp(&(b.event_at, &b.event_id)));
        Ok(out)
    }
}

/// The state of one endpoint in memory.
#[derive(Debug, Default)]
struct MemEndpoint {
    cursors: BTreeMap<String, u64>,
    pending: Option<Pending>,
    attempts: VecDeque<Attempt>,
    last: LastOutcomes,
    letters: HashMap<String, DeadLetter>,
}

/// The state in memory: it ends with the process (a restart delivers again from the
/// engines' logs as [`crate::settings::webhooks::Start`] says).
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<HashMap<String, MemEndpoint>>);

impl WebhookStore for MemoryStore {
    fn persistent(&self) -> bool {
        false
    }

    fn apply(&self, endpoint: &str, u: &Update) -> Result<(), StoreError> {
        let mut all = self.0.lock();
        let ep = all.entry(endpoint.to_owned()).or_default();
        for (engine, seq) in &u.cursors {
            ep.cursors.insert(engine.clone(), *seq);
        }
        if let Some(p) = &u.pending {
            ep.pending = p.clone();
        }
        ep.attempts.extend(u.attempts.iter().cloned());
        while ep.attempts.len() > RECENT_KEPT {
            ep.attempts.pop_front();
        }
        ep.last.fold(&u.attempts);
        if let Some(id) = &u.remove_letter {
            ep.letters.remove(id);
        }
        if let Some(l) = &u.put_letter {
            ep.letters.insert(l.id.clone(), l.clone());
        }
        Ok(())
    }

    fn cursors(&self, endpoint: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        Ok(self
            .0
            .lock()
            .get(endpoint)
            .map(|e| e.cursors.clone())
            .unwrap_or_default())
    }

    fn pending(&self, endpoint: &str) -> Result<Option<Pending>, StoreError> {
        Ok(self.0.lock().get(endpoint).and_then(|e| e.pending.clone()))
    }

    fn recent(&self, endpoint: &str, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        Ok(self
            .0
            .lock()
            .get(endpoint)
            .map(|e| e.attempts.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    fn last(&self, endpoint: &str) -> Result<LastOutcomes, StoreError> {
        Ok(self
            .0
            .lock()
            .get(endpoint)
            .map(|e| e.last.clone())
            .unwrap_or_default())
    }

    fn letters(&self, endpoint: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let mut out: Vec<DeadLetter> = self
            .0
            .lock()
            .get(endpoint)
            .map(|e| e.letters.values().cloned().collect())
            .unwrap_or_default();
        out.sort_by(|a, b| (a.event_at, &a.event_id).cmp(&(b.event_at, &b.event_id)));
        Ok(out)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

/// Runs `f` on the store from a blocking thread.
pub(crate) async fn blocking<R: Send + 'static>(
    store: &std::sync::Arc<dyn WebhookStore>,
    f: impl FnOnce(&dyn WebhookStore) -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    let store = std::sync::Arc::clone(store);
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| StoreError(format!("store task: {e}")))?
}
