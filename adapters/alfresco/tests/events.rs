//! Events derived by polling: changes made directly in the simulator (not through the
//! engine) become events within the poll interval, a restart on the same state
//! directory repeats none and reports what changed meanwhile, and an unreachable
//! upstream fails polls without losing anything.

mod common;

use std::time::{Duration, Instant};

use flowgate_alfresco::sim::{nodes, Fault, FaultKind, SimHandle};
use flowgate_alfresco::{AlfrescoEngine, AuthMode};
use flowgate_core::{Event, EventKind, EventQuery, PageRequest, WorkflowEngine};
use serde_json::{json, Value};

const WF: &str = "api/-default-/public/workflow/versions/1";

/// A request to the simulator's own Alfresco API, as `user`.
async fn direct(
    sim: &SimHandle,
    user: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let resp = reqwest::Client::new()
        .request(method, format!("{}{WF}{path}", sim.base_url))
        .basic_auth(user, Some(user))
        .timeout(Duration::from_secs(10))
        .json(&body)
        .send()
        .await
        .expect("simulator answers");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

/// Starts a single-reviewer review for `jdoe` directly in the simulator; returns the
/// process id and its first task id.
async fn start_directly(sim: &SimHandle) -> (String, String) {
    let p = direct(
        sim,
        "dave",
        reqwest::Method::POST,
        "/processes",
        json!({"processDefinitionKey": "activitiReview", "variables": {"bpm_assignee": "jdoe"}, "items": [nodes::CONTRACT]}),
    )
    .await;
    let pid = p["entry"]["id"].as_str().expect("process id").to_owned();
    let tasks = reqwest::Client::new()
        .get(format!("{}{WF}/processes/{pid}/tasks", sim.base_url))
        .basic_auth("admin", Some("admin"))
        .send()
        .await
        .expect("tasks")
        .json::<Value>()
        .await
        .expect("json");
    let tid = tasks["list"]["entries"][0]["entry"]["id"]
        .as_str()
        .expect("task id")
        .to_owned();
    (pid, tid)
}

/// Completes task `tid` as `jdoe` with outcome Approve, directly in the simulator.
async fn approve_directly(sim: &SimHandle, tid: &str) {
    direct(
        sim,
        "jdoe",
        reqwest::Method::PUT,
        &format!("/tasks/{tid}?select=state,variables"),
        json!({"state": "completed", "variables": [{"name": "wf_reviewOutcome", "value": "Approve", "scope": "local"}]}),
    )
    .await;
}

fn engine(sim: &SimHandle, poll_secs: u64, dir: &std::path::Path) -> AlfrescoEngine {
    let mut cfg = common::config(sim, AuthMode::Basic);
    cfg.events_poll_secs = poll_secs;
    cfg.events_state_dir = Some(dir.to_path_buf());
    common::engine_from(cfg)
}

async fn all(e: &AlfrescoEngine) -> Vec<Event> {
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
async fn wait_for(e: &AlfrescoEngine, n: usize) -> Vec<Event> {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let events = all(e).await;
        if events.len() >= n || Instant::now() > until {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn poll(e: &AlfrescoEngine) -> Result<usize, String> {
    e.event_feed().expect("feed").poll(e).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_in_the_simulator_become_events_within_the_interval() {
    let sim = common::sim();
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&sim, 1, dir.path());
    assert!(e.keeps_events());
    let mut live = e.live_events().expect("live events");
    let poller = e.spawn_event_poller().expect("poller");
    let until = Instant::now() + Duration::from_secs(10);
    while e.event_feed().unwrap().status().successes == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(all(&e).await.len(), 0, "the baseline reports nothing");

    let (_, tid) = start_directly(&sim).await;
    let started = Instant::now();
    let events = wait_for(&e, 2).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "within the interval and a poll"
    );
    assert_eq!(
        kinds(&events),
        [EventKind::WorkflowStarted, EventKind::TaskCreated]
    );
    assert_eq!(events[0].model, "activitiReview");
    assert_eq!(events[0].initiator, "dave");
    assert_eq!(events[0].documents, [nodes::CONTRACT]);
    assert_eq!(events[1].task_id.as_deref(), Some(tid.as_str()));
    assert_eq!(events[1].actors, ["jdoe"]);

    approve_directly(&sim, &tid).await;
    let events = wait_for(&e, 4).await;
    assert_eq!(
        kinds(&events[2..]),
        [EventKind::TaskEnded, EventKind::TaskCreated]
    );
    let ended = &events[2];
    assert_eq!(ended.task_id.as_deref(), Some(tid.as_str()));
    assert_eq!(ended.action.as_deref(), Some("approve"));
    assert_eq!(ended.principal, "jdoe");
    assert_eq!(
        events[3].actors,
        ["dave"],
        "the approved notice goes to the initiator"
    );
    let first = live.recv().await.expect("live event");
    assert_eq!((first.seq, first.kind), (1, EventKind::WorkflowStarted));
    // jdoe acted on the workflow, so sees its events; an outsider does not.
    let q = EventQuery::for_document(nodes::CONTRACT);
    let mine = e
        .events(&common::user("jdoe", &[]), q.clone())
        .await
        .unwrap();
    assert_eq!(mine.total, 4);
    assert!(e.events(&common::user("mallory", &[]), q).await.is_err());
    poller.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_repeats_nothing_and_reports_what_changed_while_down() {
    let sim = common::sim();
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&sim, 60, dir.path());
    assert_eq!(poll(&e).await, Ok(0));
    let (pid, tid) = start_directly(&sim).await;
    assert_eq!(poll(&e).await, Ok(2));
    drop(e);

    approve_directly(&sim, &tid).await;
    direct(
        &sim,
        "dave",
        reqwest::Method::DELETE,
        &format!("/processes/{pid}"),
        Value::Null,
    )
    .await;

    let e = engine(&sim, 60, dir.path());
    assert_eq!(all(&e).await.len(), 2, "the stored events are back");
    // The follow-up task was created and canceled while nobody looked: no event.
    assert_eq!(poll(&e).await, Ok(2));
    assert_eq!(poll(&e).await, Ok(0), "nothing is reported twice");
    let events = all(&e).await;
    assert_eq!(
        kinds(&events),
        [
            EventKind::WorkflowStarted,
            EventKind::TaskCreated,
            EventKind::TaskEnded,
            EventKind::WorkflowCanceled,
        ]
    );
    assert_eq!(events[2].action.as_deref(), Some("approve"));
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    drop(e);
    let e = engine(&sim, 60, dir.path());
    assert_eq!(poll(&e).await, Ok(0));
    assert_eq!(all(&e).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_fails_polls_without_losing_events() {
    let sim = common::sim();
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&sim, 60, dir.path());
    assert_eq!(poll(&e).await, Ok(0));
    start_directly(&sim).await;
    sim.fault(Fault::on(WF, FaultKind::Status(503)));
    assert!(poll(&e).await.is_err());
    assert!(poll(&e).await.is_err());
    let status = e.event_feed().unwrap().status();
    assert_eq!((status.failures, status.consecutive_failures), (2, 2));
    assert!(status.last_error.is_some());
    assert!(all(&e).await.is_empty());
    sim.clear_faults();
    assert_eq!(poll(&e).await, Ok(2));
    let status = e.event_feed().unwrap().status();
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(
        kinds(&all(&e).await),
        [EventKind::WorkflowStarted, EventKind::TaskCreated]
    );
}
