//! Upstream round trips per adapter call, pinned so that they cannot creep back: how
//! many requests reach Alfresco for one task read and for one actor task list, and in
//! how many sequential waves (measured with a fixed delay on every request).

mod common;

use std::time::{Duration, Instant};

use flowgate_alfresco::sim::{nodes, Fault, FaultKind, SimHandle};
use flowgate_alfresco::AuthMode;
use flowgate_core::{StartWorkflow, TaskQuery, WorkflowEngine};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_an_assigned_task_takes_three_requests_in_two_waves() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Basic);
    bounded(async {
        let dave = common::user("dave", &[]);
        let bob = common::user("bob", &[]);
        let wf = e.start(&dave, adhoc_for("bob")).await.expect("start");
        let open = e
            .tasks(&bob, TaskQuery::for_workflow(&wf.id))
            .await
            .expect("tasks");
        let id = open.items[0].id.clone();
        // The first read fills the caches (definition, process, form).
        let first = e.task(&bob, &id).await.expect("first read");
        sim.clear_requests();
        let again = e.task(&bob, &id).await.expect("cached read");
        assert_eq!(first, again, "cached parts give the same task");
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
async fn an_actor_task_list_reads_lists_then_items_in_two_waves() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Basic);
    bounded(async {
        let dave = common::user("dave", &[]);
        let bob = common::user("bob", &[]);
        for _ in 0..3 {
            e.start(&dave, adhoc_for("bob")).await.expect("start");
        }
        let q = || TaskQuery::for_actor("bob", Vec::<String>::new());
        let first = e.tasks(&bob, q()).await.expect("first list");
        assert_eq!(first.total, 3);
        sim.clear_requests();
        let again = e.tasks(&bob, q()).await.expect("cached list");
        assert_eq!(first.items, again.items, "cached parts give the same tasks");
        let reqs = seen(&sim);
        let lists = reqs.iter().filter(|r| r.as_str() == "GET tasks").count();
        let items = reqs.iter().filter(|r| r.ends_with("/items")).count();
        // Assigned to bob, bob as a candidate, and started by bob through the service
        // account; then the items of each task. Variables come with the lists.
        assert_eq!((lists, items, reqs.len()), (3, 3, 6), "requests: {reqs:?}");
        let w = waves(&sim, async {
            e.tasks(&bob, q()).await.expect("list with delay");
        })
        .await;
        assert_eq!(w, 2, "sequential waves for an actor task list");
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
