//! [`RedbStorage`]: the engine's state in one redb file in the data directory.
//!
//! Tables (keys are ids as `u128`, values are CRC-32-framed JSON):
//! - `meta`: `format_version`, `snapshot_seq` (last log entry folded into the records);
//! - `log`: sequence number → one committed batch (`[Change, ...]`);
//! - `workflows`, `tasks`: id → record, as of `snapshot_seq`;
//! - `document_paths`: document id → path, as of `snapshot_seq`;
//! - `events`: event sequence number → workflow event ([`Change::Event`]).
//!
//! Events are not log entries: a commit numbers the events of its batches in order
//! and writes them to `events` in the same transaction as the log entries, so an
//! event is on disk exactly when the change it describes is. Builds that do not know
//! the table ignore it, so events need no format version of their own.
//!
//! A purge ([`Change::Purge`]) is a log entry like any other; folding it deletes the
//! instance's and its tasks' records, so the space they took is reused. The first
//! commit holding a purge marks the file with format version
//! [`PURGE_FORMAT_VERSION`] in the same transaction: older builds, which cannot read
//! such entries, then refuse the file instead of misreading it.
//!
//! A commit group appends one log entry per batch in one write transaction with
//! immediate durability (redb writes the pages, `fsync`s, then flips its checksummed
//! commit slot), so a crash leaves either the whole group or none of it. Folding
//! ([`Storage::snapshot`]) moves the oldest log entries into the record tables in
//! another transaction; load reads the records, then replays what is left of the log.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::redb_events;
use super::{
    frame, unframe, Loaded, SnapshotProgress, Storage, StorageError, BASE_FORMAT_VERSION,
    FORMAT_VERSION, PURGE_FORMAT_VERSION,
};
use crate::state::{Change, TaskRecord, WorkflowRecord};

/// Name of the data file inside the data directory.
pub const DATA_FILE: &str = "flowgate.redb";

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const WORKFLOWS: TableDefinition<u128, &[u8]> = TableDefinition::new("workflows");
const TASKS: TableDefinition<u128, &[u8]> = TableDefinition::new("tasks");
const DOC_PATHS: TableDefinition<&str, &[u8]> = TableDefinition::new("document_paths");
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");

/// How long opening waits for another process to release the data file.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Memory redb may use to cache pages of the data file. Its default (1 GiB) lets the
/// cache grow with the file, about 4 KB per workflow: the engine serves every read
/// from its own state and reads the file only at start-up and when folding the log,
/// so a small cache costs no request anything, and the operating system's page cache
/// still holds the file.
pub const CACHE_BYTES: usize = 4 << 20;

const KEY_VERSION: &str = "format_version";
const KEY_SNAPSHOT_SEQ: &str = "snapshot_seq";

/// Sequence bookkeeping, owned by the writer thread in practice.
#[derive(Debug, Clone, Copy)]
struct Seqs {
    /// Last log entry folded into the record tables (0: none).
    snapshot: u64,
    /// Next log sequence number to write.
    next: u64,
    /// Format version stored in the file.
    version: u64,
}

/// The engine's state in `<data_dir>/flowgate.redb`.
pub struct RedbStorage {
    file: PathBuf,
    db: Database,
    seqs: Mutex<Seqs>,
    snapshot_threshold: u64,
}

impl std::fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStorage")
            .field("file", &self.file)
            .field("seqs", &*self.seqs.lock())
            .field("snapshot_threshold", &self.snapshot_threshold)
            .finish_non_exhaustive()
    }
}

/// Runs a redb call, turning a panic inside the library (possible on some damaged
/// files) into a refusal instead of a crash.
fn guarded<T>(file: &Path, f: impl FnOnce() -> Result<T, StorageError>) -> Result<T, StorageError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown failure");
            Err(StorageError::Corrupted {
                file: file.to_owned(),
                detail: format!("the storage library failed reading it: {what}"),
            })
        }
    }
}

impl RedbStorage {
    /// Opens (or creates) the data file in `data_dir`, creating the directory if
    /// missing, and checks its format version. `snapshot_threshold` is the number of
    /// log entries after which [`Storage::needs_snapshot`] says yes (at least 1).
    pub fn open(data_dir: &Path, snapshot_threshold: u64) -> Result<Self, StorageError> {
        let file = data_dir.join(DATA_FILE);
        std::fs::create_dir_all(data_dir).map_err(|e| StorageError::Backend {
            file: file.clone(),
            detail: format!("cannot create the data directory: {e}"),
        })?;
        match std::fs::metadata(&file) {
            Ok(m) if m.len() == 0 => {
                // Never a state flowgate leaves behind (see `create_new`): data was lost.
                return Err(StorageError::Corrupted {
                    file,
                    detail: "the file is empty".into(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::create_new(data_dir, &file)?
            }
            Err(e) => {
                return Err(StorageError::Backend {
                    file,
                    detail: format!("cannot read the data file: {e}"),
                })
            }
        }
        let db = Self::open_waiting(&file)?;
        let storage = Self {
            file: file.clone(),
            db,
            seqs: Mutex::new(Seqs {
                snapshot: 0,
                next: 1,
                version: BASE_FORMAT_VERSION,
            }),
            snapshot_threshold: snapshot_threshold.max(1),
        };
        guarded(&file, || storage.check_format())?;
        Ok(storage)
    }

    /// Opens the file, waiting up to [`LOCK_WAIT`] for another process to release it:
    /// during a restart the previous process may still be finishing its last requests,
    /// and `flowgate check-config` opens the file briefly too.
    fn open_waiting(file: &Path) -> Result<Database, StorageError> {
        let deadline = Instant::now() + LOCK_WAIT;
        let mut told = false;
        loop {
            let r = guarded(file, || {
                Database::builder()
                    .set_cache_size(CACHE_BYTES)
                    .open(file)
                    .map_err(|e| db_error(file, e.into()))
            });
            match r {
                Err(StorageError::Locked { .. }) if Instant::now() < deadline => {
                    if !told {
                        tracing::warn!(file = %file.display(), "data file in use by another process; waiting for it to be released");
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    /// Creates and initialises a data file under a temporary name, then renames it
    /// into place: a data file that exists is always a complete, versioned store, so
    /// an empty or headerless one means lost data and is refused rather than
    /// silently started over.
    fn create_new(data_dir: &Path, file: &Path) -> Result<(), StorageError> {
        let tmp = data_dir.join(format!("{DATA_FILE}.new"));
        let io = |what: &str, e: std::io::Error| StorageError::Backend {
            file: file.to_owned(),
            detail: format!("{what}: {e}"),
        };
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot remove a left-over new data file", e)),
        }
        {
            let db = Database::builder()
                .create(&tmp)
                .map_err(|e| db_error(&tmp, e.into()))?;
            let fresh = Self {
                file: tmp.clone(),
                db,
                seqs: Mutex::new(Seqs {
                    snapshot: 0,
                    next: 1,
                    version: BASE_FORMAT_VERSION,
                }),
                snapshot_threshold: 1,
            };
            fresh.check_format()?;
        }
        std::fs::rename(&tmp, file).map_err(|e| io("cannot move the new data file in place", e))?;
        // Make the rename itself durable.
        std::fs::File::open(data_dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("cannot sync the data directory", e))
    }

    /// The data file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    fn err(&self, e: impl Into<redb::Error>) -> StorageError {
        db_error(&self.file, e.into())
    }

    fn corrupted(&self, detail: impl Into<String>) -> StorageError {
        StorageError::Corrupted {
            file: self.file.clone(),
            detail: detail.into(),
        }
    }

    /// Reads (or, on a new file, writes) the format version and the sequence numbers.
    fn check_format(&self) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            let log = txn.open_table(LOG).map_err(|e| self.err(e))?;
            let wfs = txn.open_table(WORKFLOWS).map_err(|e| self.err(e))?;
            txn.open_table(TASKS).map_err(|e| self.err(e))?;
            txn.open_table(DOC_PATHS).map_err(|e| self.err(e))?;
            txn.open_table(EVENTS).map_err(|e| self.err(e))?;
            let version = meta
                .get(KEY_VERSION)
                .map_err(|e| self.err(e))?
                .map(|v| v.value());
            match version {
                Some(v) if v > FORMAT_VERSION => {
                    return Err(StorageError::FutureFormat {
                        file: self.file.clone(),
                        found: v,
                        supported: FORMAT_VERSION,
                    })
                }
                Some(0) => return Err(self.corrupted("format version 0 is not a valid version")),
                Some(_) => {}
                None => {
                    // The lowest version describing what is written so far, so that an
                    // older build can still open the file until a purge is written.
                    let empty = log.is_empty().map_err(|e| self.err(e))?
                        && wfs.is_empty().map_err(|e| self.err(e))?;
                    if !empty {
                        return Err(self.corrupted("records without a format version"));
                    }
                    meta.insert(KEY_VERSION, BASE_FORMAT_VERSION)
                        .map_err(|e| self.err(e))?;
                    meta.insert(KEY_SNAPSHOT_SEQ, 0).map_err(|e| self.err(e))?;
                }
            }
            let snapshot = meta
                .get(KEY_SNAPSHOT_SEQ)
                .map_err(|e| self.err(e))?
                .map(|v| v.value())
                .unwrap_or(0);
            let last = log
                .last()
                .map_err(|e| self.err(e))?
                .map(|(k, _)| k.value())
                .unwrap_or(snapshot);
            *self.seqs.lock() = Seqs {
                snapshot,
                next: last.max(snapshot) + 1,
                version: version.unwrap_or(BASE_FORMAT_VERSION),
            };
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(())
    }

    fn load_inner(&self) -> Result<Loaded, StorageError> {
        let mut out = Loaded::default();
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let snapshot_seq = self.seqs.lock().snapshot;

        let wfs = txn.open_table(WORKFLOWS).map_err(|e| self.err(e))?;
        for row in wfs.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let rec: WorkflowRecord = decode(v.value()).ok_or_else(|| {
                self.corrupted(format!(
                    "workflow record {} fails its checksum or does not decode",
                    uuid::Uuid::from_u128(k.value())
                ))
            })?;
            out.changes.push(Change::Workflow(rec));
        }
        let tasks = txn.open_table(TASKS).map_err(|e| self.err(e))?;
        for row in tasks.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let rec: TaskRecord = decode(v.value()).ok_or_else(|| {
                self.corrupted(format!(
                    "task record {} fails its checksum or does not decode",
                    uuid::Uuid::from_u128(k.value())
                ))
            })?;
            out.changes.push(Change::Task(rec));
        }
        let docs = txn.open_table(DOC_PATHS).map_err(|e| self.err(e))?;
        for row in docs.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let path = unframe(v.value())
                .and_then(|p| std::str::from_utf8(p).ok())
                .ok_or_else(|| {
                    self.corrupted(format!(
                        "document path of '{}' fails its checksum",
                        k.value()
                    ))
                })?;
            out.changes.push(Change::DocumentPath {
                id: k.value().to_owned(),
                path: path.to_owned(),
            });
        }
        let events = txn.open_table(EVENTS).map_err(|e| self.err(e))?;
        for row in events.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let mut e: flowgate_core::Event = decode(v.value()).ok_or_else(|| {
                self.corrupted(format!(
                    "event {} fails its checksum or does not decode",
                    k.value()
                ))
            })?;
            e.seq = k.value();
            out.changes.push(Change::event(e));
        }
        out.snapshot_records = out.changes.len();

        let log = txn.open_table(LOG).map_err(|e| self.err(e))?;
        let last = log.last().map_err(|e| self.err(e))?.map(|(k, _)| k.value());
        let mut bad_tail = None;
        let rows = log.range(snapshot_seq + 1..).map_err(|e| self.err(e))?;
        for (expected, row) in (snapshot_seq + 1..).zip(rows) {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let seq = k.value();
            if seq != expected {
                return Err(self.corrupted(format!(
                    "log entries {expected}..{} are missing before entry {seq}",
                    seq - 1
                )));
            }
            match decode::<Vec<Change>>(v.value()) {
                Some(batch) => {
                    out.changes.extend(batch);
                    out.log_entries += 1;
                }
                None if Some(seq) == last => bad_tail = Some(seq),
                None => {
                    return Err(self.corrupted(format!(
                        "log entry {seq} fails its checksum or does not decode, and later entries exist"
                    )))
                }
            }
        }
        if let Some(first) = log.first().map_err(|e| self.err(e))? {
            if first.0.value() <= snapshot_seq {
                return Err(self.corrupted(format!(
                    "log entry {} is older than the snapshot (sequence {snapshot_seq})",
                    first.0.value()
                )));
            }
        }
        drop(log);
        drop(txn);

        if let Some(seq) = bad_tail {
            tracing::warn!(
                file = %self.file.display(),
                entry = seq,
                "the last log entry fails its checksum (damaged tail); dropping it and recovering the state up to the entry before it"
            );
            let txn = self.db.begin_write().map_err(|e| self.err(e))?;
            {
                let mut log = txn.open_table(LOG).map_err(|e| self.err(e))?;
                log.remove(seq).map_err(|e| self.err(e))?;
            }
            txn.commit().map_err(|e| self.err(e))?;
            self.seqs.lock().next = seq;
            out.dropped_tail_entries = 1;
        }
        // Only a file that ever held a purge can hold events of a purged workflow.
        let purged_before = self.seqs.lock().version >= PURGE_FORMAT_VERSION;
        let orphans = if purged_before {
            redb_events::orphans(&out.changes)
        } else {
            Vec::new()
        };
        if !orphans.is_empty() {
            // Left by purges of earlier versions, which kept a workflow's events.
            let txn = self.db.begin_write().map_err(|e| self.err(e))?;
            {
                let mut events = txn.open_table(EVENTS).map_err(|e| self.err(e))?;
                redb_events::write(&mut events, &[], &orphans).map_err(|e| self.err(e))?;
            }
            txn.commit().map_err(|e| self.err(e))?;
            tracing::info!(
                file = %self.file.display(),
                events = orphans.len(),
                "deleted the stored events of workflows purged earlier"
            );
        }
        Ok(out)
    }

    fn snapshot_inner(&self, max_entries: usize) -> Result<SnapshotProgress, StorageError> {
        let seqs = *self.seqs.lock();
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let mut folded = 0usize;
        let mut upto = seqs.snapshot;
        {
            let mut log = txn.open_table(LOG).map_err(|e| self.err(e))?;
            let mut wfs = txn.open_table(WORKFLOWS).map_err(|e| self.err(e))?;
            let mut tasks = txn.open_table(TASKS).map_err(|e| self.err(e))?;
            let mut docs = txn.open_table(DOC_PATHS).map_err(|e| self.err(e))?;
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            let mut entries = Vec::new();
            for row in log
                .range(seqs.snapshot + 1..)
                .map_err(|e| self.err(e))?
                .take(max_entries)
            {
                let (k, v) = row.map_err(|e| self.err(e))?;
                entries.push((k.value(), v.value().to_vec()));
            }
            for (seq, bytes) in entries {
                let batch: Vec<Change> = decode(&bytes).ok_or_else(|| {
                    self.corrupted(format!("log entry {seq} fails its checksum while folding"))
                })?;
                for c in batch {
                    match c {
                        Change::Workflow(rec) => {
                            wfs.insert(rec.id.as_u128(), encode(&rec)?.as_slice())
                                .map_err(|e| self.err(e))?;
                        }
                        Change::Task(rec) => {
                            tasks
                                .insert(rec.id.as_u128(), encode(&rec)?.as_slice())
                                .map_err(|e| self.err(e))?;
                        }
                        Change::DocumentPath { id, path } => {
                            docs.insert(id.as_str(), frame(path.as_bytes()).as_slice())
                                .map_err(|e| self.err(e))?;
                        }
                        // Written to the events table by the commit, never logged.
                        Change::Event(_) => {}
                        Change::Purge {
                            workflow,
                            tasks: ids,
                            ..
                        } => {
                            wfs.remove(workflow.as_u128()).map_err(|e| self.err(e))?;
                            for t in ids {
                                tasks.remove(t.as_u128()).map_err(|e| self.err(e))?;
                            }
                        }
                    }
                }
                log.remove(seq).map_err(|e| self.err(e))?;
                upto = seq;
                folded += 1;
            }
            meta.insert(KEY_SNAPSHOT_SEQ, upto)
                .map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        let mut s = self.seqs.lock();
        s.snapshot = upto;
        Ok(SnapshotProgress {
            folded,
            remaining: (s.next - 1).saturating_sub(upto),
        })
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value)
        .map(|bytes| frame(&bytes))
        .map_err(|e| StorageError::Backend {
            file: PathBuf::new(),
            detail: format!("cannot encode a record: {e}"),
        })
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(unframe(bytes)?).ok()
}

fn db_error(file: &Path, e: redb::Error) -> StorageError {
    let file = file.to_owned();
    match e {
        redb::Error::DatabaseAlreadyOpen => StorageError::Locked { file },
        redb::Error::Corrupted(detail) => StorageError::Corrupted { file, detail },
        redb::Error::UpgradeRequired(v) => StorageError::Backend {
            file,
            detail: format!("the file uses an old storage layout ({v}) this build cannot open"),
        },
        redb::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            StorageError::Corrupted {
                file,
                detail: format!("the file is shorter than its header says ({io})"),
            }
        }
        other => StorageError::Backend {
            file,
            detail: other.to_string(),
        },
    }
}

impl Storage for RedbStorage {
    fn describe(&self) -> String {
        format!("redb:{}", self.file.display())
    }

    fn is_durable(&self) -> bool {
        true
    }

    fn load(&self) -> Result<Loaded, StorageError> {
        guarded(&self.file, || self.load_inner())
    }

    fn commit(&self, group: &[Vec<Change>]) -> Result<(), StorageError> {
        let mut encoded = Vec::with_capacity(group.len());
        let mut new_events = Vec::new();
        for batch in group {
            let (events, changes): (Vec<&Change>, Vec<&Change>) =
                batch.iter().partition(|c| matches!(c, Change::Event(_)));
            encoded.push(encode(&changes)?);
            for c in events {
                if let Change::Event(e) = c {
                    new_events.push(encode(e.as_ref())?);
                }
            }
        }
        let (next, version) = {
            let s = self.seqs.lock();
            (s.next, s.version)
        };
        let purged = redb_events::purged(group);
        let mark = version < PURGE_FORMAT_VERSION
            && group
                .iter()
                .flatten()
                .any(|c| matches!(c, Change::Purge { .. }));
        guarded(&self.file, || {
            // Immediate durability is redb's default: commit returns after fsync.
            let txn = self.db.begin_write().map_err(|e| self.err(e))?;
            {
                if mark {
                    let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
                    meta.insert(KEY_VERSION, PURGE_FORMAT_VERSION)
                        .map_err(|e| self.err(e))?;
                }
                if !new_events.is_empty() || !purged.is_empty() {
                    let mut events = txn.open_table(EVENTS).map_err(|e| self.err(e))?;
                    redb_events::write(&mut events, &new_events, &purged)
                        .map_err(|e| self.err(e))?;
                }
                let mut log = txn.open_table(LOG).map_err(|e| self.err(e))?;
                for (i, bytes) in encoded.iter().enumerate() {
                    log.insert(next + i as u64, bytes.as_slice())
                        .map_err(|e| self.err(e))?;
                }
            }
            txn.commit().map_err(|e| self.err(e))
        })?;
        let mut s = self.seqs.lock();
        s.next = next + group.len() as u64;
        if mark {
            s.version = PURGE_FORMAT_VERSION;
        }
        Ok(())
    }

    fn needs_snapshot(&self) -> bool {
        let s = self.seqs.lock();
        (s.next - 1).saturating_sub(s.snapshot) >= self.snapshot_threshold
    }

    fn snapshot(&self, max_entries: usize) -> Result<SnapshotProgress, StorageError> {
        guarded(&self.file, || self.snapshot_inner(max_entries))
    }
}
