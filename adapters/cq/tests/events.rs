//! Events derived by polling: changes made directly in the simulator (not through the
//! engine) become events within the poll interval, a restart on the same state
//! directory repeats none and reports what changed meanwhile, and an unreachable
//! upstream fails polls without losing anything.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgate_core::{Event, EventKind, EventQuery, PageRequest, WorkflowEngine};
use flowgate_cq::sim::{self, CqSim, Fault, FaultAction};
use flowgate_cq::{CqEngine, Profile};

const MODEL: &str = "flowgate/two_step_approval";

async fn simulator() -> CqSim {
    sim::spawn_with(sim::SimOptions::new(Profile::Aem64To65), 0)
        .await
        .expect("simulator starts")
}

fn engine(sim: &CqSim, poll_secs: u64, dir: &std::path::Path) -> Arc<CqEngine> {
    let mut cfg = common::config_for(sim, common::service_auth(Profile::Aem64To65));
    cfg.events_poll_secs = poll_secs;
    cfg.events_state_dir = Some(dir.to_path_buf());
    Arc::new(CqEngine::new("cq", cfg).expect("engine"))
}

async fn all(e: &CqEngine) -> Vec<Event> {
    let q = EventQuery {
        page: PageRequest::new(0, 1000),
        ..EventQuery::default()
    };
    e.events(&common::admin(), q).await.expect("events").items
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

/// Waits (at most 15 s) until the engine holds `n` events.
async fn wait_for(e: &CqEngine, n: usize) -> Vec<Event> {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let events = all(e).await;
        if events.len() >= n || Instant::now() > until {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn poll(e: &CqEngine) -> Result<usize, String> {
    e.event_feed().expect("feed").poll(e).await
}

fn start(sim: &CqSim) -> (String, String) {
    let inst = sim
        .start_directly(MODEL, "jdoe", common::PAGE)
        .expect("started");
    let item = sim.open_items(&inst).first().cloned().expect("first item");
    (inst, item)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_in_the_simulator_become_events_within_the_interval() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&sim, 1, dir.path());
    assert!(e.keeps_events());
    let mut live = e.live_events().expect("live events");
    let poller = e.spawn_event_poller().expect("poller");
    let until = Instant::now() + Duration::from_secs(10);
    while e.event_feed().unwrap().status().successes == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(all(&e).await.is_empty(), "the baseline reports nothing");

    let (inst, item) = start(&sim);
    let started = Instant::now();
    let events = wait_for(&e, 2).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        kinds(&events),
        [EventKind::WorkflowStarted, EventKind::TaskCreated]
    );
    assert_eq!(events[0].workflow_id, common::id_of(&inst));
    assert_eq!(events[0].model, MODEL);
    assert_eq!(events[0].initiator, "jdoe");
    assert_eq!(events[0].documents, [common::id_of(common::PAGE)]);
    assert_eq!(
        events[1].task_id.as_deref(),
        Some(common::id_of(&item).as_str())
    );

    sim.complete_directly("editor1", &item, "")
        .expect("completed");
    let events = wait_for(&e, 4).await;
    assert_eq!(
        kinds(&events[2..]),
        [EventKind::TaskEnded, EventKind::TaskCreated]
    );
    assert_eq!(
        events[2].task_id.as_deref(),
        Some(common::id_of(&item).as_str())
    );
    assert_eq!(events[3].task_name.as_deref(), Some("Legal Review"));

    let legal = sim.open_items(&inst).first().cloned().expect("legal item");
    sim.complete_directly("legal1", &legal, "Publish")
        .expect("approved");
    let events = wait_for(&e, 6).await;
    assert_eq!(
        kinds(&events[4..]),
        [EventKind::TaskEnded, EventKind::WorkflowFinished]
    );
    assert_eq!(
        events[2].principal, "editor1",
        "the completing user, from the history"
    );
    assert_eq!(events[4].principal, "legal1");
    let first = live.recv().await.expect("live event");
    assert_eq!((first.seq, first.kind), (1, EventKind::WorkflowStarted));
    poller.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_repeats_nothing_and_reports_what_changed_while_down() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&sim, 60, dir.path());
    assert_eq!(poll(&e).await, Ok(0));
    let (inst, item) = start(&sim);
    assert_eq!(poll(&e).await, Ok(2));
    drop(e);

    sim.complete_directly("editor1", &item, "")
        .expect("completed");
    let e = engine(&sim, 60, dir.path());
    assert_eq!(all(&e).await.len(), 2, "the stored events are back");
    assert_eq!(poll(&e).await, Ok(2));
    assert_eq!(poll(&e).await, Ok(0), "nothing is reported twice");
    drop(e);

    sim.terminate_directly("admin", &inst).expect("terminated");
    let e = engine(&sim, 60, dir.path());
    assert_eq!(poll(&e).await, Ok(1));
    let events = all(&e).await;
    assert_eq!(
        kinds(&events),
        [
            EventKind::WorkflowStarted,
            EventKind::TaskCreated,
            EventKind::TaskEnded,
            EventKind::TaskCreated,
            EventKind::WorkflowCanceled,
        ]
    );
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_fails_polls_without_losing_events() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&sim, 60, dir.path());
    assert_eq!(poll(&e).await, Ok(0));
    start(&sim);
    sim.add_fault(Fault::on("*", "/", FaultAction::Status(503)));
    assert!(poll(&e).await.is_err());
    assert!(poll(&e).await.is_err());
    let status = e.event_feed().unwrap().status();
    assert_eq!((status.failures, status.consecutive_failures), (2, 2));
    assert!(status.last_error.is_some());
    assert!(all(&e).await.is_empty());
    sim.clear_faults();
    assert_eq!(poll(&e).await, Ok(2));
    assert_eq!(e.event_feed().unwrap().status().consecutive_failures, 0);
    assert_eq!(
        kinds(&all(&e).await),
        [EventKind::WorkflowStarted, EventKind::TaskCreated]
    );
}
