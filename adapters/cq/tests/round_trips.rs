//! Upstream round trips per adapter call, pinned so that they cannot creep back: how
//! many requests reach CQ/AEM for one task read and for one actor task list, and in
//! how many sequential waves (measured with a fixed delay on every request).

mod common;

use std::time::{Duration, Instant};

use common::*;
use flowgate_core::{StartWorkflow, TaskQuery, WorkflowEngine};
use flowgate_cq::sim::{CqSim, Fault, FaultAction};
use flowgate_cq::{CqEngine, Profile};

/// Delay the simulator adds to every request while waves are measured.
const DELAY: Duration = Duration::from_millis(150);

async fn bounded<F: std::future::Future<Output = T>, T>(f: F) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test finished in time")
}

async fn start_review(e: &CqEngine) -> flowgate_core::WorkflowInstance {
    let req = StartWorkflow {
        model: "flowgate/review".into(),
        documents: vec![PAGE.to_owned()],
        variables: Default::default(),
    };
    e.start(&editor1(), req).await.expect("start")
}

/// Requests the simulator saw, as "METHOD path" for readable failures.
fn seen(sim: &CqSim) -> Vec<String> {
    sim.requests()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Sequential waves a call took, from its duration with `DELAY` on every request.
async fn waves<F: std::future::Future>(sim: &CqSim, f: F) -> u128 {
    sim.add_fault(Fault::on("*", "/", FaultAction::Delay(DELAY)));
    let t0 = Instant::now();
    f.await;
    let waves = t0.elapsed().as_millis() / DELAY.as_millis();
    sim.clear_faults();
    waves
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_task_takes_four_requests_in_one_wave() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    bounded(async {
        let wf = start_review(&e).await;
        let open = e
            .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
            .await
            .expect("tasks");
        let id = open.items[0].id.clone();
        // The first read fills the model cache.
        let first = e.task(&jdoe(), &id).await.expect("first read");
        sim.clear_requests();
        let again = e.task(&jdoe(), &id).await.expect("cached read");
        assert_eq!(first, again, "the cached model gives the same task");
        let reqs = seen(&sim);
        // The instance, the work item, its routes and its back-routes.
        assert_eq!(reqs.len(), 4, "requests for one task read: {reqs:?}");
        assert!(reqs.iter().all(|r| r.starts_with("GET ")), "{reqs:?}");
        let w = waves(&sim, async {
            e.task(&jdoe(), &id).await.expect("read with delay");
        })
        .await;
        assert_eq!(w, 1, "sequential waves for one task read");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_task_list_takes_three_waves() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    bounded(async {
        start_review(&e).await;
        start_review(&e).await;
        let q = || TaskQuery::for_actor("jdoe", ["authors", "workflow-users"]);
        let first = e.tasks(&jdoe(), q()).await.expect("first list");
        assert_eq!(first.total, 2);
        sim.clear_requests();
        let again = e.tasks(&jdoe(), q()).await.expect("cached list");
        assert_eq!(
            first.items, again.items,
            "the cached model gives the same tasks"
        );
        let reqs = seen(&sim);
        // Running and suspended instance lists, each running instance, then each open
        // item with its routes and back-routes.
        assert_eq!(reqs.len(), 2 + 2 + 2 * 3, "requests: {reqs:?}");
        let w = waves(&sim, async {
            e.tasks(&jdoe(), q()).await.expect("list with delay");
        })
        .await;
        assert_eq!(w, 3, "sequential waves for an actor task list");
    })
    .await;
}
