//! The `events` table of the redb data file: events are numbered after the highest
//! number in the table, and deleted with their workflow when it is purged.
//!
//! The row with the highest number is never deleted while it is the highest (a purge
//! in the same commit as new events may delete it): numbering goes on after it, so no
//! number is ever given twice, across restarts too. So at most one event of a purged
//! workflow stays in the file; the first start after newer events were written deletes
//! it ([`orphans`]), as it deletes events that purges of earlier versions left behind.

use std::collections::HashSet;

use redb::{ReadableTable, Table};
use uuid::Uuid;

use crate::state::Change;

/// Appends `new_events` (encoded) after the highest number in the table and deletes
/// `purged`, in the caller's write transaction.
pub(super) fn write(
    table: &mut Table<u64, &[u8]>,
    new_events: &[Vec<u8>],
    purged: &[u64],
) -> Result<(), redb::StorageError> {
    let last = table.last()?.map(|(k, _)| k.value());
    let first = last.map_or(1, |l| l + 1);
    for (i, bytes) in new_events.iter().enumerate() {
        table.insert(first + i as u64, bytes.as_slice())?;
    }
    let keep = if new_events.is_empty() { last } else { None };
    for &seq in purged {
        if Some(seq) != keep {
            table.remove(seq)?;
        }
    }
    Ok(())
}

/// The numbers of the events a purge of `group` deletes.
pub(super) fn purged(group: &[Vec<Change>]) -> Vec<u64> {
    group
        .iter()
        .flatten()
        .filter_map(|c| match c {
            Change::Purge { events, .. } => Some(events.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The events among `loaded` (the changes a load gives back, in order) whose workflow
/// no longer exists at the end, except the highest-numbered event: events of workflows
/// purged before purges deleted their events.
pub(super) fn orphans(loaded: &[Change]) -> Vec<u64> {
    let mut live = HashSet::new();
    for c in loaded {
        match c {
            Change::Workflow(rec) => {
                live.insert(rec.id);
            }
            Change::Purge { workflow, .. } => {
                live.remove(workflow);
            }
            _ => {}
        }
    }
    let events = loaded.iter().filter_map(|c| match c {
        Change::Event(e) => Some(e),
        _ => None,
    });
    let last = events.clone().map(|e| e.seq).max();
    events
        .filter(|e| Some(e.seq) != last)
        .filter(|e| Uuid::parse_str(&e.workflow_id).is_ok_and(|id| !live.contains(&id)))
        .map(|e| e.seq)
        .collect()
}
