//! Tests of `store.rs`.

use super::*;

fn attempt(n: u32, outcome: Outcome) -> Attempt {
    Attempt {
        id: format!("msg_{n}"),
        event_id: format!("local:{n}"),
        kind: "afterWorkflowStarted".into(),
        at: Utc::now(),
        attempt: 1,
        outcome,
        status: Some(200),
        error: None,
        duration_ms: 3,
    }
}

fn letter(id: &str) -> DeadLetter {
    let now = Utc::now();
    DeadLetter {
        id: id.into(),
        event_id: "local:9".into(),
        kind: "afterWorkflowFinish".into(),
        event_at: now,
        body: "{}".into(),
        first_attempt: now,
        last_attempt: now,
        attempts: 4,
        last_error: "HTTP 500".into(),
        state: LetterState::Dead,
        requeued_at: None,
    }
}

/// The behaviour every backend must have.
fn contract(s: &dyn WebhookStore) {
    assert!(s.cursors("a").unwrap().is_empty());
    s.apply(
        "a",
        &Update {
            cursors: vec![("local".into(), 5), ("archive".into(), 2)],
            ..Update::default()
        },
    )
    .unwrap();
    s.apply(
        "b",
        &Update {
            cursors: vec![("local".into(), 1)],
            ..Update::default()
        },
    )
    .unwrap();
    let c = s.cursors("a").unwrap();
    assert_eq!(c.get("local"), Some(&5));
    assert_eq!(c.get("archive"), Some(&2));
    assert_eq!(s.cursors("b").unwrap().len(), 1);

    let p = Pending {
        id: "msg_1".into(),
        event_id: "local:6".into(),
        first_attempt: Utc::now(),
        attempts: 2,
        last_error: "HTTP 503".into(),
    };
    s.apply(
        "a",
        &Update {
            pending: Some(Some(p.clone())),
            attempts: vec![attempt(1, Outcome::Failed)],
            ..Update::default()
        },
    )
    .unwrap();
    assert_eq!(s.pending("a").unwrap(), Some(p));
    assert_eq!(s.pending("b").unwrap(), None);
    s.apply(
        "a",
        &Update {
            cursors: vec![("local".into(), 6)],
            pending: Some(None),
            attempts: vec![attempt(2, Outcome::Delivered)],
            ..Update::default()
        },
    )
    .unwrap();
    assert_eq!(s.pending("a").unwrap(), None);
    let last = s.last("a").unwrap();
    assert_eq!(last.last_success.unwrap().id, "msg_2");
    assert_eq!(last.last_failure.unwrap().id, "msg_1");

    for n in 3..(RECENT_KEPT as u32 + 10) {
        s.apply(
            "a",
            &Update {
                attempts: vec![attempt(n, Outcome::Delivered)],
                ..Update::default()
            },
        )
        .unwrap();
    }
    let recent = s.recent("a", 1000).unwrap();
    assert_eq!(recent.len(), RECENT_KEPT, "only the last attempts are kept");
    assert_eq!(recent[0].id, format!("msg_{}", RECENT_KEPT + 9));

    // Several attempts in one update: kept in order, the oldest ones trimmed, the last
    // success and failure taken from them.
    let base = RECENT_KEPT as u32 + 10;
    let mut batch: Vec<Attempt> = (base..base + 5)
        .map(|n| attempt(n, Outcome::Delivered))
        .collect();
    batch[1] = attempt(base + 1, Outcome::Failed);
    s.apply(
        "a",
        &Update {
            attempts: batch,
            ..Update::default()
        },
    )
    .unwrap();
    let recent = s.recent("a", 1000).unwrap();
    assert_eq!(recent.len(), RECENT_KEPT);
    let newest: Vec<_> = recent.iter().take(5).map(|a| a.id.clone()).collect();
    let want: Vec<_> = (base..base + 5).rev().map(|n| format!("msg_{n}")).collect();
    assert_eq!(newest, want, "newest first, in the order given");
    let last = s.last("a").unwrap();
    assert_eq!(last.last_success.unwrap().id, format!("msg_{}", base + 4));
    assert_eq!(last.last_failure.unwrap().id, format!("msg_{}", base + 1));
    assert_eq!(s.recent("a", 3).unwrap().len(), 3);
    assert!(s.recent("b", 10).unwrap().is_empty());

    s.apply(
        "a",
        &Update {
            put_letter: Some(letter("msg_x")),
            ..Update::default()
        },
    )
    .unwrap();
    let mut l = letter("msg_x");
    l.state = LetterState::Requeued;
    s.apply(
        "a",
        &Update {
            put_letter: Some(l.clone()),
            ..Update::default()
        },
    )
    .unwrap();
    assert_eq!(s.letters("a").unwrap(), vec![l]);
    assert!(s.letters("b").unwrap().is_empty());
    s.apply(
        "a",
        &Update {
            remove_letter: Some("msg_x".into()),
            ..Update::default()
        },
    )
    .unwrap();
    assert!(s.letters("a").unwrap().is_empty());
}

#[test]
fn memory_store_keeps_the_contract() {
    contract(&MemoryStore::default());
}

#[test]
fn redb_store_keeps_the_contract_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webhooks.redb");
    let s = RedbStore::open(&path).unwrap();
    contract(&s);
    s.apply(
        "a",
        &Update {
            put_letter: Some(letter("msg_y")),
            ..Update::default()
        },
    )
    .unwrap();
    drop(s);
    let s = RedbStore::open(&path).unwrap();
    assert!(s.persistent());
    assert_eq!(s.cursors("a").unwrap().get("local"), Some(&6));
    assert_eq!(s.letters("a").unwrap().len(), 1);
    assert_eq!(s.recent("a", 1000).unwrap().len(), RECENT_KEPT);
}

#[test]
fn postgres_store_keeps_the_contract() {
    use flowgate_memory::pg::{PgEngine, PgOptions};
    let Some(schema) = flowgate_testkit::pg::TestSchema::new() else {
        return;
    };
    let mut o = PgOptions::new(schema.url.clone());
    o.schema = Some(schema.name.clone());
    o.pool_size = 4;
    let engine = PgEngine::open(
        "local",
        flowgate_memory::ModelSource::Builtin,
        &o,
        flowgate_core::Limits::default(),
    )
    .expect("the test database is reachable");
    contract(&super::super::store_pg::PgStore::new(std::sync::Arc::new(
        engine,
    )));
}
