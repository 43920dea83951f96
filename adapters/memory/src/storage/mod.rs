//! Durable storage under the embedded engine.
//!
//! The engine computes every state step as a batch of [`Change`]s. With a durable
//! [`Storage`], a batch goes to a single writer thread ([`crate::journal`]) that commits
//! every batch waiting at that moment in one transaction (one `fsync` shared by all of
//! them), and only then does the engine apply the batch to its in-memory maps and
//! answer. At start-up the engine asks the storage for every record and rebuilds its
//! maps and indexes from them.
//!
//! A backend implements four operations:
//! - [`Storage::load`]: every record, as of the last successful commit;
//! - [`Storage::commit`]: a group of batches, durably and atomically (all or none);
//! - [`Storage::needs_snapshot`] / [`Storage::snapshot`]: fold part of the change log into
//!   the record tables, so that start-up cost follows the number of records rather
//!   than the length of the history.
//!
//! Two backends ship: [`RedbStorage`] (a file in the data directory) and
//! [`NoStorage`] (nothing is kept; the pure in-memory mode). See `docs/durability.md`
//! for the on-disk layout and `docs/scaling.md` for a shared database backend.

mod redb;
mod redb_events;

use std::fmt;
use std::path::PathBuf;

use crate::state::Change;

pub use self::redb::{RedbStorage, DATA_FILE};

/// Highest version of the on-disk format this build reads. A data directory with a
/// higher version is refused at start-up.
pub const FORMAT_VERSION: u64 = PURGE_FORMAT_VERSION;

/// Version written to a new data file: records and log entries without purges.
pub const BASE_FORMAT_VERSION: u64 = 1;

/// Version of a data file whose log holds (or held) purge entries
/// ([`Change::Purge`]); set by the first commit that writes one.
pub const PURGE_FORMAT_VERSION: u64 = 2;

/// Default number of log entries after which the writer folds the log into the
/// record tables.
pub const DEFAULT_SNAPSHOT_THRESHOLD: u64 = 10_000;

/// How the embedded engine keeps its state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every change is committed to the data directory, with `fsync`, before the
    /// request that made it is answered. Concurrent requests share one commit.
    #[default]
    Fsync,
    /// Nothing is written; a restart loses all state. For tests and demos.
    Memory,
}

impl Durability {
    /// The spelling used in settings files.
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Fsync => "fsync",
            Durability::Memory => "memory",
        }
    }
}

impl std::str::FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fsync" => Ok(Durability::Fsync),
            "memory" => Ok(Durability::Memory),
            other => Err(format!(
                "'{other}' is not a durability mode; expected \"fsync\" or \"memory\""
            )),
        }
    }
}

/// Where and how a durable engine keeps its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageOptions {
    /// Directory holding the engine's data file; created if missing.
    pub data_dir: PathBuf,
    /// Durable (`Fsync`) or not kept at all (`Memory`, `data_dir` is then unused).
    pub durability: Durability,
    /// Log entries (one per committed step) after which the log is folded into the
    /// record tables. Smaller: faster start-up, more write work. At least 1.
    pub snapshot_threshold: u64,
}

impl StorageOptions {
    /// Durable storage in `data_dir` with the default snapshot threshold.
    pub fn durable(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            durability: Durability::Fsync,
            snapshot_threshold: DEFAULT_SNAPSHOT_THRESHOLD,
        }
    }

    /// No storage: state lives only in memory.
    pub fn memory() -> Self {
        Self {
            data_dir: PathBuf::new(),
            durability: Durability::Memory,
            snapshot_threshold: DEFAULT_SNAPSHOT_THRESHOLD,
        }
    }

    /// Opens the backend these options describe.
    pub fn open(&self) -> Result<Box<dyn Storage>, StorageError> {
        match self.durability {
            Durability::Memory => Ok(Box::new(NoStorage)),
            Durability::Fsync => Ok(Box::new(RedbStorage::open(
                &self.data_dir,
                self.snapshot_threshold,
            )?)),
        }
    }
}

/// Why storage cannot be opened, read or written. Messages name the file and the
/// problem, and say what an operator can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The data was written by a newer flowgate whose format this build cannot read.
    #[error(
        "data file '{file}' has on-disk format version {found}; this flowgate reads versions up to {supported}. \
         Run the flowgate version that wrote it, or move the data directory aside to start empty"
    )]
    FutureFormat {
        /// Data file.
        file: PathBuf,
        /// Version found on disk.
        found: u64,
        /// Highest version this build reads.
        supported: u64,
    },
    /// The data is damaged somewhere a valid prefix cannot be recovered from.
    #[error(
        "data file '{file}' is damaged ({detail}); refusing to start rather than serve wrong state. \
         Restore the data directory from a backup, or move it aside to start empty"
    )]
    Corrupted {
        /// Data file.
        file: PathBuf,
        /// What is wrong and where.
        detail: String,
    },
    /// Another process holds the data file.
    #[error("data file '{file}' is in use by another process")]
    Locked {
        /// Data file.
        file: PathBuf,
    },
    /// An I/O or database error.
    #[error("storage '{file}': {detail}")]
    Backend {
        /// Data file (or backend name).
        file: PathBuf,
        /// What failed.
        detail: String,
    },
    /// An earlier commit failed; nothing more is accepted until a restart reloads the
    /// state from disk.
    #[error("storage stopped after a failed commit ({0}); restart flowgate to reload its state")]
    Failed(String),
}

/// Everything a backend holds, as changes to apply in order: records first, then the
/// log entries not yet folded into them, oldest first.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Changes to apply in order.
    pub changes: Vec<Change>,
    /// Records read from the folded tables.
    pub snapshot_records: usize,
    /// Log entries replayed on top of them.
    pub log_entries: usize,
    /// Damaged log entries dropped at the tail (see [`Storage::load`]).
    pub dropped_tail_entries: usize,
}

/// What one [`Storage::snapshot`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotProgress {
    /// Log entries folded into the record tables.
    pub folded: usize,
    /// Log entries still waiting.
    pub remaining: u64,
}

/// A place the embedded engine's state is kept. Implementations are called from one
/// thread at a time (the engine's writer thread, or start-up), so they need no
/// internal coordination beyond `&self` interior mutability.
///
/// Contract:
/// - [`Storage::commit`] makes every batch of the group durable, in order, or none of
///   them; when it returns `Ok`, a crash at any later moment keeps them.
/// - [`Storage::load`] returns the state as of the last successful commit. A damaged
///   last entry may be dropped (the backend logs it and reports it in
///   [`Loaded::dropped_tail_entries`]); damage anywhere else is
///   [`StorageError::Corrupted`], never a partial answer.
/// - [`Storage::snapshot`] never changes what [`Storage::load`] returns.
pub trait Storage: Send + Sync + fmt::Debug {
    /// A short description for logs (`redb:/var/lib/flowgate/local/flowgate.redb`).
    fn describe(&self) -> String;

    /// Whether commits are kept (false for [`NoStorage`]).
    fn is_durable(&self) -> bool;

    /// Every record, as changes to apply in order.
    fn load(&self) -> Result<Loaded, StorageError>;

    /// Commits a group of batches durably and atomically, in order.
    fn commit(&self, group: &[Vec<Change>]) -> Result<(), StorageError>;

    /// Whether the log is long enough that [`Storage::snapshot`] should run.
    fn needs_snapshot(&self) -> bool;

    /// Folds at most `max_entries` of the oldest log entries into the record tables.
    fn snapshot(&self, max_entries: usize) -> Result<SnapshotProgress, StorageError>;
}

/// The pure in-memory mode: keeps nothing, loads nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoStorage;

impl Storage for NoStorage {
    fn describe(&self) -> String {
        "memory (not durable)".to_owned()
    }

    fn is_durable(&self) -> bool {
        false
    }

    fn load(&self) -> Result<Loaded, StorageError> {
        Ok(Loaded::default())
    }

    fn commit(&self, _group: &[Vec<Change>]) -> Result<(), StorageError> {
        Ok(())
    }

    fn needs_snapshot(&self) -> bool {
        false
    }

    fn snapshot(&self, _max_entries: usize) -> Result<SnapshotProgress, StorageError> {
        Ok(SnapshotProgress::default())
    }
}

/// Frames a payload with its CRC-32, so damage inside a value is detected on read
/// even where the backend would not look (redb checks page checksums only when it
/// repairs after a crash).
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of a framed value, or `None` when its checksum does not match.
pub(crate) fn unframe(bytes: &[u8]) -> Option<&[u8]> {
    let (sum, payload) = bytes.split_at_checked(4)?;
    let sum = u32::from_le_bytes(sum.try_into().ok()?);
    (crc32fast::hash(payload) == sum).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_values_detect_a_flipped_bit() {
        let mut f = frame(b"{\"a\":1}");
        assert_eq!(unframe(&f), Some(&b"{\"a\":1}"[..]));
        f[6] ^= 0x10;
        assert_eq!(unframe(&f), None);
        assert_eq!(unframe(&f[..2]), None);
    }

    #[test]
    fn durability_modes_parse_with_their_settings_spelling() {
        assert_eq!("fsync".parse::<Durability>(), Ok(Durability::Fsync));
        assert_eq!("memory".parse::<Durability>(), Ok(Durability::Memory));
        assert!("disk".parse::<Durability>().is_err());
        assert_eq!(Durability::Fsync.as_str(), "fsync");
    }
}
