//! Events as the engine keeps them in memory: packed.
//!
//! An [`Event`] as the API returns it repeats its workflow's model, initiator and id
//! as strings in `extended`, and names users, models and node titles that thousands of
//! other events name too. Packed, an event shares repeated strings ([`Interner`];
//! workflow and document ids are shared with the log's indexes), and keeps of
//! `extended` only what the other fields do not already say. [`Packed::unpack`]
//! gives back the very event that was packed: [`Packed::pack`] checks that by
//! unpacking, and an event that would not come back identical (a shape this build
//! does not derive itself, e.g. read from a newer data file) is kept whole instead.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::events::extended as ext;
use crate::{Event, EventKind};

/// One copy of each string that many events name (users, models, node titles,
/// actions). Strings no event names any more are dropped as the set grows.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    set: HashSet<Arc<str>>,
    prune_at: usize,
}

impl Interner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.set.get(s) {
            return a.clone();
        }
        if self.set.len() >= self.prune_at {
            self.set.retain(|a| Arc::strong_count(a) > 1);
            self.prune_at = (2 * self.set.len()).max(1024);
        }
        let a: Arc<str> = Arc::from(s);
        self.set.insert(a.clone());
        a
    }
}

// Which keys of `extended` the event has, beyond the four every event has (model
// name and id, initiator, instance id), each equal to the field it comes from.
const TASK_NAME: u8 = 1;
const ACTORS: u8 = 1 << 1;
const DELEGATED: u8 = 1 << 2;
const TASK_ACTOR: u8 = 1 << 3;
const ACTION: u8 = 1 << 4;
const SINCE_TASK: u8 = 1 << 5;
const SINCE_WF: u8 = 1 << 6;
const DUE: u8 = 1 << 7;

/// An event in memory, without its sequence number (the log's key) and engine name
/// (filled when read).
#[derive(Debug)]
pub(crate) enum Stored {
    Packed(Packed),
    Whole(Box<Event>),
}

impl Stored {
    /// The event, numbered `seq`.
    pub fn event(&self, seq: u64) -> Event {
        match self {
            Stored::Packed(p) => p.unpack(seq),
            Stored::Whole(e) => Event {
                seq,
                ..(**e).clone()
            },
        }
    }

    /// Its documents.
    pub fn documents(&self) -> impl Iterator<Item = &str> {
        let (packed, whole) = match self {
            Stored::Packed(p) => (Some(p.documents.iter().map(|d| &**d)), None),
            Stored::Whole(e) => (None, Some(e.documents.iter().map(String::as_str))),
        };
        packed
            .into_iter()
            .flatten()
            .chain(whole.into_iter().flatten())
    }

    /// Kind, cause and time, to skip events before unpacking them.
    pub fn head(&self) -> (EventKind, &str, DateTime<Utc>) {
        match self {
            Stored::Packed(p) => (p.kind, &p.principal, p.at),
            Stored::Whole(e) => (e.kind, &e.principal, e.at),
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Packed {
    at: DateTime<Utc>,
    kind: EventKind,
    flags: u8,
    workflow: Arc<str>,
    task: Option<Id>,
    model: Arc<str>,
    principal: Arc<str>,
    initiator: Arc<str>,
    task_name: Option<Arc<str>>,
    documents: Box<[Arc<str>]>,
    actors: Box<[Arc<str>]>,
    /// Milliseconds (an event whose times do not fit, 49 days and more, is kept whole).
    since_task: u32,
    since_wf: u32,
    rare: Option<Box<Rare>>,
}

/// A task id: 16 bytes when it is a UUID in its usual spelling (lower-case, hyphens),
/// as the embedded engine's are.
#[derive(Debug)]
enum Id {
    Uuid([u8; 16]),
    Text(Box<str>),
}

impl Id {
    fn new(s: &str) -> Id {
        let b = s.as_bytes();
        let hex = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 16];
        let mut digits = b.iter().enumerate().filter(|(i, _)| !HYPHENS.contains(i));
        let ok = b.len() == 36
            && HYPHENS.iter().all(|&i| b[i] == b'-')
            && out.iter_mut().all(|o| {
                match (
                    digits.next().and_then(|(_, c)| hex(*c)),
                    digits.next().and_then(|(_, c)| hex(*c)),
                ) {
                    (Some(h), Some(l)) => {
                        *o = h << 4 | l;
                        true
                    }
                    _ => false,
                }
            });
        if ok {
            Id::Uuid(out)
        } else {
            Id::Text(s.into())
        }
    }

    fn text(&self) -> String {
        match self {
            Id::Text(t) => t.to_string(),
            Id::Uuid(b) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut s = String::with_capacity(36);
                for (i, byte) in b.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        s.push('-');
                    }
                    s.push(HEX[usize::from(byte >> 4)] as char);
                    s.push(HEX[usize::from(byte & 15)] as char);
                }
                s
            }
        }
    }
}

/// Where the hyphens of a UUID's usual spelling are.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// Fields most events leave empty.
#[derive(Debug, Default)]
struct Rare {
    delegated: Box<[Arc<str>]>,
    action: Option<Arc<str>>,
    comment: Option<Box<str>>,
    due: Option<Box<str>>,
}

fn strings(v: &[Arc<str>]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Packed {
    /// `e` packed, or `None` when it would not unpack identical. `workflow` is the
    /// shared copy of its workflow id, `docs` those of its documents, in order.
    pub fn pack(
        e: &Event,
        names: &mut Interner,
        workflow: Arc<str>,
        docs: &[Arc<str>],
    ) -> Option<Packed> {
        if !e.engine.is_empty() {
            return None;
        }
        let mut flags = 0;
        let (mut since_task, mut since_wf, mut due) = (0, 0, None);
        for (k, v) in &e.extended {
            match k.as_str() {
                ext::MODEL_NAME
                | ext::MODEL_ID
                | ext::WORKFLOW_INITIATOR
                | ext::WORKFLOW_INSTANCE_ID => {}
                ext::TASK_NAME => flags |= TASK_NAME,
                ext::ACTORS => flags |= ACTORS,
                ext::DELEGATED_ACTORS => flags |= DELEGATED,
                ext::TASK_ACTOR => flags |= TASK_ACTOR,
                ext::ACTION => flags |= ACTION,
                ext::TIME_SINCE_TASK_STARTED => {
                    flags |= SINCE_TASK;
                    since_task = u32::try_from(v.as_u64()?).ok()?;
                }
                ext::TIME_SINCE_WF_STARTED => {
                    flags |= SINCE_WF;
                    since_wf = u32::try_from(v.as_u64()?).ok()?;
                }
                ext::DUE_DATE => {
                    flags |= DUE;
                    due = Some(v.as_str()?.into());
                }
                _ => return None,
            }
        }
        let list = |v: &[String], names: &mut Interner| -> Box<[Arc<str>]> {
            v.iter().map(|s| names.get(s)).collect()
        };
        let rare = Rare {
            delegated: list(&e.delegated, names),
            action: e.action.as_deref().map(|a| names.get(a)),
            comment: e.comment.as_deref().map(Box::from),
            due,
        };
        let common = rare.delegated.is_empty()
            && rare.action.is_none()
            && rare.comment.is_none()
            && rare.due.is_none();
        let p = Packed {
            at: e.at,
            kind: e.kind,
            flags,
            workflow,
            task: e.task_id.as_deref().map(Id::new),
            model: names.get(&e.model),
            principal: names.get(&e.principal),
            initiator: names.get(&e.initiator),
            task_name: e.task_name.as_deref().map(|n| names.get(n)),
            documents: docs.into(),
            actors: list(&e.actors, names),
            since_task,
            since_wf,
            rare: (!common).then(|| Box::new(rare)),
        };
        (p.unpack(e.seq) == *e).then_some(p)
    }

    /// The event packed, numbered `seq`.
    pub fn unpack(&self, seq: u64) -> Event {
        let rare = self.rare.as_deref();
        let delegated = rare.map_or_else(Vec::new, |r| strings(&r.delegated));
        let action = rare.and_then(|r| r.action.as_deref()).map(str::to_owned);
        let workflow_id = self.workflow.to_string();
        let model = Value::String(self.model.to_string());
        let mut x = BTreeMap::new();
        x.insert(ext::MODEL_NAME.to_owned(), model.clone());
        x.insert(ext::MODEL_ID.to_owned(), model);
        x.insert(
            ext::WORKFLOW_INITIATOR.to_owned(),
            Value::String(self.initiator.to_string()),
        );
        x.insert(
            ext::WORKFLOW_INSTANCE_ID.to_owned(),
            Value::String(workflow_id.clone()),
        );
        let f = |bit: u8| self.flags & bit != 0;
        if f(TASK_NAME) {
            let name = self.task_name.as_deref().unwrap_or_default();
            x.insert(ext::TASK_NAME.to_owned(), Value::String(name.to_owned()));
        }
        if f(ACTORS) {
            x.insert(ext::ACTORS.to_owned(), Value::from(strings(&self.actors)));
        }
        if f(DELEGATED) {
            x.insert(
                ext::DELEGATED_ACTORS.to_owned(),
                Value::from(delegated.clone()),
            );
        }
        if f(TASK_ACTOR) {
            x.insert(
                ext::TASK_ACTOR.to_owned(),
                Value::String(self.principal.to_string()),
            );
        }
        if f(ACTION) {
            let a = action.clone().unwrap_or_default();
            x.insert(ext::ACTION.to_owned(), Value::String(a));
        }
        if f(SINCE_TASK) {
            x.insert(
                ext::TIME_SINCE_TASK_STARTED.to_owned(),
                self.since_task.into(),
            );
        }
        if f(SINCE_WF) {
            x.insert(ext::TIME_SINCE_WF_STARTED.to_owned(), self.since_wf.into());
        }
        if f(DUE) {
            let due = rare.and_then(|r| r.due.as_deref()).unwrap_or_default();
            x.insert(ext::DUE_DATE.to_owned(), Value::String(due.to_owned()));
        }
        Event {
            seq,
            engine: String::new(),
            kind: self.kind,
            at: self.at,
            workflow_id,
            task_id: self.task.as_ref().map(Id::text),
            task_name: self.task_name.as_deref().map(str::to_owned),
            model: self.model.to_string(),
            documents: strings(&self.documents),
            principal: self.principal.to_string(),
            initiator: self.initiator.to_string(),
            actors: strings(&self.actors),
            delegated,
            action,
            comment: rare.and_then(|r| r.comment.as_deref()).map(str::to_owned),
            extended: x,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task event as the embedded engine derives it.
    fn task_created() -> Event {
        let wf = "0c5e3b7a-1c2d-4e5f-8a9b-000000000001";
        let mut x = BTreeMap::new();
        for (k, v) in [
            (ext::MODEL_NAME, "SerialDocumentReview"),
            (ext::MODEL_ID, "SerialDocumentReview"),
            (ext::WORKFLOW_INITIATOR, "jdoe"),
            (ext::WORKFLOW_INSTANCE_ID, wf),
            (ext::TASK_NAME, "wf.serialDocumentReview.chooseParticipants"),
            (ext::DUE_DATE, "2026-12-10T10:00:00.000Z"),
        ] {
            x.insert(k.to_owned(), Value::String(v.to_owned()));
        }
        x.insert(ext::ACTORS.to_owned(), Value::from(vec!["jdoe".to_owned()]));
        Event {
            seq: 7,
            engine: String::new(),
            kind: EventKind::TaskCreated,
            at: Utc::now(),
            workflow_id: wf.into(),
            task_id: Some("0c5e3b7a-1c2d-4e5f-8a9b-000000000002".into()),
            task_name: Some("wf.serialDocumentReview.chooseParticipants".into()),
            model: "SerialDocumentReview".into(),
            documents: vec!["doc-1".into()],
            principal: "jdoe".into(),
            initiator: "jdoe".into(),
            actors: vec!["jdoe".into()],
            delegated: vec![],
            action: None,
            comment: None,
            extended: x,
        }
    }

    fn pack(e: &Event, names: &mut Interner) -> Option<Packed> {
        let docs: Vec<Arc<str>> = e.documents.iter().map(|d| Arc::from(d.as_str())).collect();
        Packed::pack(e, names, Arc::from(e.workflow_id.as_str()), &docs)
    }

    #[test]
    fn a_derived_event_unpacks_identical_and_shares_its_names() {
        let mut names = Interner::default();
        let e = task_created();
        let p = pack(&e, &mut names).expect("packs");
        assert_eq!(p.unpack(7), e);
        let q = pack(&e, &mut names).expect("packs");
        assert!(Arc::ptr_eq(&p.principal, &q.principal));
        assert!(Arc::ptr_eq(&p.model, &q.model));
    }

    #[test]
    fn task_ids_come_back_as_they_were_given() {
        for t in [
            "0c5e3b7a-1c2d-4e5f-8a9b-000000000002",
            "0C5E3B7A-1C2D-4E5F-8A9B-000000000002",
            "t1",
            "0c5e3b7a1c2d4e5f8a9b000000000002",
            "0c5e3b7a-1c2d-4e5f-8a9b-00000000000g",
        ] {
            assert_eq!(Id::new(t).text(), t);
        }
        assert!(matches!(
            Id::new("0c5e3b7a-1c2d-4e5f-8a9b-000000000002"),
            Id::Uuid(_)
        ));
    }

    #[test]
    fn an_event_of_another_shape_is_kept_whole() {
        let mut names = Interner::default();
        let mut e = task_created();
        e.extended.insert("custom".into(), Value::Bool(true));
        assert!(pack(&e, &mut names).is_none());
        let mut e = task_created();
        e.extended
            .insert(ext::TASK_ACTOR.into(), Value::String("someone else".into()));
        assert!(
            pack(&e, &mut names).is_none(),
            "taskActor differs from the principal"
        );
    }

    #[test]
    fn a_packed_event_is_a_fraction_of_a_whole_one() {
        // What an event costs in the log, besides strings shared with other events.
        assert!(
            std::mem::size_of::<Stored>() <= 168,
            "{}",
            std::mem::size_of::<Stored>()
        );
        assert!(std::mem::size_of::<Event>() >= 300);
    }
}
