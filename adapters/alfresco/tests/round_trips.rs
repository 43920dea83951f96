//! Upstream round trips per adapter call, pinned so that they cannot creep back: how
//! many requests reach Alfresco for one task read and for one actor task list, and in
//! how many sequential waves (measured with a fixed delay on every request), with the
//! parts cache (`cache_ttl_ms`) warm, cold and off; and the cache's staleness bound:
//! what is always read fresh, what a write drops, what the TTL ends.

mod common;

use std::time::{Duration, Instant};

use flowgate_alfresco::sim::{nodes, Fault, FaultKind, SimHandle};
use flowgate_alfresco::AuthMode;
use flowgate_core::{StartWorkflow, TaskQuery, TaskState, WorkflowEngine};
use serde_json::json;

/// Delay the simulator adds to every request while waves are measured.
const DELAY: Duration = Duration::from_millis(150);

async fn bounded<F: std::future::Future<Output = T>, T>(f: F) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test finished in time")
}

fn adhoc_for(user: &str) -> StartWorkflow {
    StartWorkflow {
        model: "activitiAdhoc".into(),
        documents: vec![nodes::CONTRACT.into()],
        variables: json!({"assignee": user})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    }
}

/// Requests the simulator saw, as "METHOD path-tail" for readable failures.
fn seen(sim: &SimHandle) -> Vec<String> {
    sim.requests()
        .into_iter()
        .map(|r| {
            let tail = r.path.rsplit("/versions/1/").next().unwrap_or(&r.path);
            format!("{} {tail}", r.method)
        })
        .collect()
}

/// Sequential waves a call took, from its duration with `DELAY` on every request.
async fn waves<F: std::future::Future>(sim: &SimHandle, f: F) -> u128 {
    sim.fault(Fault::on("/api/", FaultKind::Delay(DELAY)));
    let t0 = Instant::now();
    f.await;
    let waves = t0.elapsed().as_millis() / DELAY.as_millis();
    sim.clear_faults();
    waves
}

/// An engine whose parts cache keeps entries `ttl_ms` (0: no cache).
fn engine_with_ttl(sim: &SimHandle, ttl_ms: u64) -> flowgate_alfresco::AlfrescoEngine {
    let mut cfg = common::config(sim, AuthMode::Basic);
    cfg.cache_ttl_ms = ttl_ms;
    common::engine_from(cfg)
}

/// A TTL no test outlives: what is cached stays cached unless invalidated.
const LONG_TTL: u64 = 60_000;

/// Starts an ad-hoc workflow for `user` and returns (task id, native process id).
async fn open_task_of(e: &flowgate_alfresco::AlfrescoEngine, user: &str) -> (String, String) {
    let dave = common::user("dave", &[]);
    let wf = e.start(&dave, adhoc_for(user)).await.expect("start");
    let open = e
        .tasks(&common::user(user, &[]), TaskQuery::for_workflow(&wf.id))
        .await
        .expect("tasks");
    let native = wf.id.trim_start_matches('$').to_owned();
    (open.items[0].id.clone(), native)
}

/// Direct calls on the simulator, as another Alfresco client would make them.
struct Direct {
    http: reqwest::Client,
    wf: String,
}

impl Direct {
    fn new(sim: &SimHandle) -> Self {
        Self {
            http: reqwest::Client::new(),
            wf: format!("{}api/-default-/public/workflow/versions/1/", sim.base_url),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) {
        let resp = req
            .basic_auth("admin", Some("admin"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("simulator answers");
        assert!(resp.status().is_success(), "direct call: {}", resp.status());
    }

    async fn put_task(&self, task: &str, select: &str, body: serde_json::Value) {
        let url = format!("{}tasks/{task}?select={select}", self.wf);
        self.send(self.http.put(url).json(&body)).await;
    }

    async fn add_item(&self, process: &str, node: &str) {
        let url = format!("{}processes/{process}/items", self.wf);
        self.send(self.http.post(url).json(&json!({"id": node})))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_task_read_is_the_tasks_own_get_alone() {
    let sim = common::sim();
    let e = engine_with_ttl(&sim, LONG_TTL);
    bounded(async {
        let bob = common::user("bob", &[]);
        let (id, _) = open_task_of(&e, "bob").await;
        // The first read fills the caches (definition, process, form, items, variables).
        let first = e.task(&bob, &id).await.expect("first read");
        sim.clear_requests();
        let again = e.task(&bob, &id).await.expect("cached read");
        assert_eq!(first, again, "cached parts give the same task");
        let reqs = seen(&sim);
        let native = id.trim_start_matches('$');
        assert_eq!(reqs, vec![format!("GET tasks/{native}")], "requests");
        let w = waves(&sim, async {
            e.task(&bob, &id).await.expect("read with delay");
        })
        .await;
        assert_eq!(w, 1, "sequential waves for one warm task read");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cache_a_task_read_takes_three_requests_in_two_waves() {
    let sim = common::sim();
    let e = engine_with_ttl(&sim, 0);
    bounded(async {
        let bob = common::user("bob", &[]);
        let (id, _) = open_task_of(&e, "bob").await;
        let first = e.task(&bob, &id).await.expect("first read");
        sim.clear_requests();
        let again = e.task(&bob, &id).await.expect("second read");
        assert_eq!(first, again);
        let reqs = seen(&sim);
        // The task, its items, and its process's runtime list (which carries the
        // variables and is the only place a pending delegation shows).
        assert_eq!(reqs.len(), 3, "requests for one task read: {reqs:?}");
        assert!(reqs.iter().all(|r| r.starts_with("GET ")), "{reqs:?}");
        let w = waves(&sim, async {
            e.task(&bob, &id).await.expect("read with delay");
        })
        .await;
        assert_eq!(w, 2, "sequential waves for one task read");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_task_read_keeps_two_waves() {
    let sim = common::sim();
    let e = engine_with_ttl(&sim, LONG_TTL);
    bounded(async {
        let bob = common::user("bob", &[]);
        let (id, _) = open_task_of(&e, "bob").await;
        // The listing cached definition, process, form and items; the variables and the
        // delegation verdict come from the runtime list, after the task.
        let w = waves(&sim, async {
            e.task(&bob, &id).await.expect("cold read");
        })
        .await;
        assert_eq!(w, 2, "sequential waves for a cold task read");
    })
    .await;
}

/// Three open tasks of bob, one per workflow; returns the query.
async fn three_tasks_of_bob(e: &flowgate_alfresco::AlfrescoEngine) -> TaskQuery {
    let dave = common::user("dave", &[]);
    for _ in 0..3 {
        e.start(&dave, adhoc_for("bob")).await.expect("start");
    }
    TaskQuery::for_actor("bob", Vec::<String>::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_actor_task_list_is_one_wave_of_lists() {
    let sim = common::sim();
    let e = engine_with_ttl(&sim, LONG_TTL);
    bounded(async {
        let bob = common::user("bob", &[]);
        let q = three_tasks_of_bob(&e).await;
        let first = e.tasks(&bob, q.clone()).await.expect("first list");
        assert_eq!(first.total, 3);
        sim.clear_requests();
        let again = e.tasks(&bob, q.clone()).await.expect("cached list");
        assert_eq!(first.items, again.items, "cached parts give the same tasks");
        let reqs = seen(&sim);
        // Assigned to bob, bob as a candidate, and started by bob through the service
        // account; variables come with the lists, items from the cache.
        assert_eq!(reqs, vec!["GET tasks"; 3], "requests");
        let w = waves(&sim, async {
            e.tasks(&bob, q.clone()).await.expect("list with delay");
        })
        .await;
        assert_eq!(w, 1, "sequential waves for a warm actor task list");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cache_an_actor_task_list_reads_lists_then_items_in_two_waves() {
    let sim = common::sim();
    let e = engine_with_ttl(&sim, 0);
    bounded(async {
        let bob = common::user("bob", &[]);
        let q = three_tasks_of_bob(&e).await;
        let first = e.tasks(&bob, q.clone()).await.expect("first list");
        assert_eq!(first.total, 3);
        sim.clear_requests();
        let again = e.tasks(&bob, q.clone()).await.expect("second list");
        assert_eq!(first.items, again.items);
        let reqs = seen(&sim);
        let lists = reqs.iter().filter(|r| r.as_str() == "GET tasks").count();
        let items = reqs.iter().filter(|r| r.ends_with("/items")).count();
        assert_eq!((lists, items, reqs.len()), (3, 3, 6), "requests: {reqs:?}");
        let w = waves(&sim, async {
            e.tasks(&bob, q.clone()).await.expect("list with delay");
        })
        .await;
        assert_eq!(w, 2, "sequential waves for an actor task list");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_completed_or_reassigned_outside_the_gateway_shows_on_the_next_read() {
    let sim = common::sim();
    let e = engine_with_ttl(&sim, LONG_TTL);
    let direct = Direct::new(&sim);
    bounded(async {
        let bob = common::user("bob", &[]);
        let admin = common::admin();
        // Reassigned directly: the next read names the new assignee.
        let (id, _) = open_task_of(&e, "bob").await;
        let native = id.trim_start_matches('$').to_owned();
        e.task(&bob, &id).await.expect("warm up");
        assert_eq!(e.task(&bob, &id).await.expect("warm").actors, vec!["bob"]);
        direct
            .put_task(&native, "assignee", json!({"assignee": "erin"}))
            .await;
        let t = e.task(&admin, &id).await.expect("read after reassignment");
        assert_eq!(t.actors, vec!["erin"], "assignee is read fresh");
        let err = e
            .task(&bob, &id)
            .await
            .expect_err("bob is no actor any more");
        assert_eq!(err.kind(), flowgate_core::ErrorKind::Forbidden);
        // Completed directly: the next read shows it ended, with its outcome.
        let (id, _) = open_task_of(&e, "bob").await;
        let native = id.trim_start_matches('$').to_owned();
        let open = e.task(&bob, &id).await.expect("warm up");
        assert_eq!(open.state, TaskState::Opened);
        e.task(&bob, &id).await.expect("warm");
        direct
            .put_task(&native, "state", json!({"state": "completed"}))
            .await;
        let done = e.task(&bob, &id).await.expect("read after completion");
        assert_eq!(done.state, TaskState::Ended, "ended, by an actor: {done:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_the_adapter_drops_the_cached_parts_of_its_process() {
    let sim = common::sim();
    let e = engine_with_ttl(&sim, LONG_TTL);
    let direct = Direct::new(&sim);
    bounded(async {
        let bob = common::user("bob", &[]);
        let (id, pid) = open_task_of(&e, "bob").await;
        let before = e.task(&bob, &id).await.expect("warm up");
        assert_eq!(before.target_documents, vec![nodes::CONTRACT]);
        // Changed behind the gateway's back: the cached items are still served...
        direct.add_item(&pid, nodes::BUDGET).await;
        let cached = e.task(&bob, &id).await.expect("cached read");
        assert_eq!(
            cached.target_documents,
            vec![nodes::CONTRACT],
            "served from cache"
        );
        // ...until a write on the process through the adapter.
        e.reassign(&bob, &id, vec!["bob".into()], Some("kept".into()))
            .await
            .expect("reassign");
        let after = e.task(&bob, &id).await.expect("read after the write");
        assert_eq!(after.target_documents.len(), 2, "items re-read: {after:?}");
        assert!(
            after
                .comments
                .iter()
                .any(|c| c.text.as_deref() == Some("kept")),
            "variables re-read: {:?}",
            after.comments
        );
        // A delegation through the adapter shows at once (owner and delegate as actors).
        e.delegate(&bob, &id, vec!["erin".into()], None)
            .await
            .expect("delegate");
        let delegated = e.task(&bob, &id).await.expect("read after delegation");
        assert_eq!(delegated.delegated_actors, vec!["erin"]);
        e.task(&common::user("erin", &[]), &id)
            .await
            .expect("the delegate sees the task");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_ttl_items_and_variables_changed_outside_the_gateway_are_seen() {
    const TTL: Duration = Duration::from_millis(400);
    let sim = common::sim();
    let e = engine_with_ttl(&sim, TTL.as_millis() as u64);
    let direct = Direct::new(&sim);
    bounded(async {
        let bob = common::user("bob", &[]);
        let (id, pid) = open_task_of(&e, "bob").await;
        let native = id.trim_start_matches('$').to_owned();
        let filled = Instant::now();
        e.task(&bob, &id).await.expect("warm up");
        direct.add_item(&pid, nodes::BUDGET).await;
        direct
            .put_task(
                &native,
                "variables",
                json!({"variables": [{"name": "bpm_comment", "value": "note-1", "scope": "local"}]}),
            )
            .await;
        let cached = e.task(&bob, &id).await.expect("read within the TTL");
        if filled.elapsed() < TTL {
            assert_eq!(cached.target_documents, vec![nodes::CONTRACT], "cached items");
        }
        tokio::time::sleep(TTL + Duration::from_millis(50)).await;
        let t = e.task(&bob, &id).await.expect("read after the TTL");
        assert_eq!(t.target_documents.len(), 2, "items after the TTL: {t:?}");
        assert!(
            t.comments.iter().any(|c| c.text.as_deref() == Some("note-1")),
            "variables after the TTL: {:?}",
            t.comments
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_read_after_the_breaker_cool_down_succeeds_whole() {
    let sim = common::sim();
    let mut cfg = common::config(&sim, AuthMode::Basic);
    cfg.http.breaker_failures = 2;
    cfg.http.breaker_cooldown_ms = 300;
    cfg.http.max_attempts = 1;
    let e = common::engine_from(cfg);
    bounded(async {
        let dave = common::user("dave", &[]);
        let bob = common::user("bob", &[]);
        let wf = e.start(&dave, adhoc_for("bob")).await.expect("start");
        let open = e
            .tasks(&bob, TaskQuery::for_workflow(&wf.id))
            .await
            .expect("tasks");
        let id = open.items[0].id.clone();
        let q = || TaskQuery::for_actor("bob", Vec::<String>::new());
        // Each kind of call after its own breaker trip: a read (two concurrent requests
        // when closed) and an actor list (three concurrent lists when closed).
        for round in 0..2 {
            sim.fault(Fault::on("/api/", FaultKind::Status(500)));
            for _ in 0..2 {
                assert!(e.task(&bob, &id).await.is_err(), "upstream fails");
            }
            sim.clear_faults();
            assert!(e.task(&bob, &id).await.is_err(), "breaker open");
            tokio::time::sleep(Duration::from_millis(400)).await;
            if round == 0 {
                e.task(&bob, &id).await.expect("read after the cool-down");
            } else {
                let page = e.tasks(&bob, q()).await.expect("list after the cool-down");
                assert_eq!(page.total, 1);
            }
        }
    })
    .await;
}
