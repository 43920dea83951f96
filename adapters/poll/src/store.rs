//! The durable side of a feed: `events.redb` in the engine's `events_state_dir`, with
//! the last snapshot, the last sequence number and the derived events. A poll writes
//! its events, the new snapshot and the retention cut in one transaction, so a restart
//! finds either all of a poll or none of it: no event is lost or repeated.

use std::path::Path;
use std::sync::Arc;

use flowgate_core::Event;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::diff::Snapshot;

/// Derived events by sequence number (JSON).
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("poll_events");

/// `snapshot` (JSON) and `last_seq` (little-endian u64).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("poll_meta");

/// What the file holds at start-up.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub snapshot: Option<Snapshot>,
    pub last_seq: u64,
    pub events: Vec<Event>,
}

/// The redb file of one feed.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    db: Arc<Database>,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("event store: {e}")
}

impl Store {
    /// Opens (creating when missing) `events.redb` in `dir`, and reads it.
    pub fn open(dir: &Path) -> Result<(Self, Loaded), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join("events.redb");
        let db = Database::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(EVENTS).map_err(err)?;
        txn.open_table(META).map_err(err)?;
        txn.commit().map_err(err)?;
        let store = Self { db: Arc::new(db) };
        let loaded = store.load()?;
        Ok((store, loaded))
    }

    fn load(&self) -> Result<Loaded, String> {
        let txn = self.db.begin_read().map_err(err)?;
        let meta = txn.open_table(META).map_err(err)?;
        let snapshot = match meta.get("snapshot").map_err(err)? {
            Some(v) => Some(serde_json::from_slice(v.value()).map_err(err)?),
            None => None,
        };
        let last_seq = match meta.get("last_seq").map_err(err)? {
            Some(v) => u64::from_le_bytes(
                v.value()
                    .try_into()
                    .map_err(|_| err("the last sequence number is damaged"))?,
            ),
            None => 0,
        };
        let table = txn.open_table(EVENTS).map_err(err)?;
        let mut events = Vec::new();
        for row in table.iter().map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let mut e: Event = serde_json::from_slice(v.value()).map_err(err)?;
            e.seq = k.value();
            events.push(e);
        }
        Ok(Loaded {
            snapshot,
            last_seq,
            events,
        })
    }

    /// Commits one poll: `events` (numbered), the new `snapshot` and `last_seq`, and
    /// deletes the events up to `drop_through` (retention), in one transaction.
    pub fn commit(
        &self,
        events: &[Event],
        snapshot: &Snapshot,
        last_seq: u64,
        drop_through: Option<u64>,
    ) -> Result<(), String> {
        let snapshot = serde_json::to_vec(snapshot).map_err(err)?;
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut table = txn.open_table(EVENTS).map_err(err)?;
            if let Some(upto) = drop_through {
                let mut expired = Vec::new();
                for row in table.range(..=upto).map_err(err)? {
                    expired.push(row.map_err(err)?.0.value());
                }
                for seq in expired {
                    table.remove(seq).map_err(err)?;
                }
            }
            for e in events {
                let json = serde_json::to_vec(e).map_err(err)?;
                table.insert(e.seq, json.as_slice()).map_err(err)?;
            }
            let mut meta = txn.open_table(META).map_err(err)?;
            meta.insert("snapshot", snapshot.as_slice()).map_err(err)?;
            meta.insert("last_seq", last_seq.to_le_bytes().as_slice())
                .map_err(err)?;
        }
        txn.commit().map_err(err)
    }
}
