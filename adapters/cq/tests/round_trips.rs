//! Upstream round trips per adapter call, pinned so that they cannot creep back: how
//! many requests reach CQ/AEM for one task read and for one actor task list, and in
//! how many sequential waves (measured with a fixed delay on every request). Also what
//! the cache (`cache_ttl_ms`) may and may not serve: the work item is always read fresh,
//! writes drop the cached parts, and the cached parts expire.

mod common;

use std::time::{Duration, Instant};

use common::*;
use flowgate_core::{
    CallContext, Completion, Credentials, Secret, StartWorkflow, TaskQuery, TaskState,
    WorkflowEngine, WorkflowState,
};
use flowgate_cq::sim::{CqSim, Fault, FaultAction};
use flowgate_cq::{AuthConfig, CqEngine, Profile};

/// Delay the simulator adds to every request while waves are measured.
const DELAY: Duration = Duration::from_millis(150);

async fn bounded<F: std::future::Future<Output = T>, T>(f: F) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test finished in time")
}

/// A simulator and a service-account engine whose cache lives `ttl_ms`.
async fn engine_with_ttl(ttl_ms: u64) -> (CqSim, CqEngine) {
    let sim = flowgate_cq::sim::spawn(Profile::Aem64To65)
        .await
        .expect("simulator starts");
    let mut c = config_for(&sim, service_auth(Profile::Aem64To65));
    c.cache_ttl_ms = ttl_ms;
    let e = CqEngine::new("cq", c).expect("engine");
    (sim, e)
}

async fn start(e: &CqEngine, model: &str) -> flowgate_core::WorkflowInstance {
    let req = StartWorkflow {
        model: model.into(),
        documents: vec![PAGE.to_owned()],
        variables: Default::default(),
    };
    e.start(&editor1(), req).await.expect("start")
}

async fn start_review(e: &CqEngine) -> flowgate_core::WorkflowInstance {
    start(e, "flowgate/review").await
}

/// The id of the one open task of a workflow.
async fn open_task_id(e: &CqEngine, wf: &str) -> String {
    let open = e
        .tasks(&admin(), TaskQuery::for_workflow(wf))
        .await
        .expect("tasks");
    assert_eq!(open.items.len(), 1, "{open:?}");
    open.items[0].id.clone()
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

/// A write done on the engine directly, the way a person in AEM's inbox or workflow
/// console would: form POSTs with the user's own credentials and CSRF token.
async fn direct_post(sim: &CqSim, user: &str, path: &str, fields: &[(&str, &str)]) {
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let token: serde_json::Value = http
        .get(format!("{base}libs/granite/csrf/token.json"))
        .basic_auth(user, Some(user))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let mut form: Vec<(&str, &str)> = vec![("_charset_", "utf-8")];
    form.extend_from_slice(fields);
    let resp = http
        .post(format!("{base}{}", path.trim_start_matches('/')))
        .basic_auth(user, Some(user))
        .header("CSRF-Token", token["token"].as_str().expect("token string"))
        .form(&form)
        .send()
        .await
        .expect("direct POST");
    assert_eq!(
        resp.status().as_u16(),
        200,
        "direct POST to {path} {fields:?}"
    );
}

/// The JCR path of a task or workflow id.
fn path_of(id: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .expect("base64url id");
    String::from_utf8(bytes).expect("utf-8 path")
}

/// The route id of a route label of an open work item, read from the engine directly.
async fn route_id(sim: &CqSim, item: &str, label: &str) -> String {
    let routes: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}{}.routes.json",
            sim.base_url(),
            item.trim_start_matches('/')
        ))
        .basic_auth("admin", Some("admin"))
        .send()
        .await
        .expect("routes")
        .json()
        .await
        .expect("routes json");
    routes["routes"]
        .as_array()
        .and_then(|r| r.iter().find(|c| c["label"] == label))
        .and_then(|c| c["rid"].as_str())
        .map(str::to_owned)
        .expect("route with that label")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_task_read_takes_one_request_the_work_item() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    bounded(async {
        let wf = start_review(&e).await;
        let id = open_task_id(&e, &wf.id).await;
        let item = path_of(&id);
        // The list above cached the instance and the item's routes.
        sim.clear_requests();
        let first = e.task(&jdoe(), &id).await.expect("first read");
        assert_eq!(seen(&sim), vec![format!("GET {item}.json")]);
        sim.clear_requests();
        let again = e.task(&jdoe(), &id).await.expect("warm read");
        assert_eq!(first, again, "the cached parts give the same task");
        assert_eq!(seen(&sim), vec![format!("GET {item}.json")]);
        let w = waves(&sim, async {
            e.task(&jdoe(), &id).await.expect("read with delay");
        })
        .await;
        assert_eq!(w, 1, "sequential waves for one task read");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_task_read_takes_four_requests_in_one_wave() {
    let (sim, e) = engine_with_ttl(60_000).await;
    bounded(async {
        let wf = start_review(&e).await;
        let id = open_task_id(&e, &wf.id).await;
        // A second engine over the same simulator has nothing cached yet (the model
        // is loaded first so that only the task's own requests are counted).
        let mut c = config_for(&sim, service_auth(Profile::Aem64To65));
        c.cache_ttl_ms = 60_000;
        let fresh = CqEngine::new("cq", c).expect("engine");
        fresh
            .model(&admin(), "flowgate/review")
            .await
            .expect("model");
        sim.clear_requests();
        let w = waves(&sim, async {
            fresh.task(&jdoe(), &id).await.expect("cold read");
        })
        .await;
        let reqs = seen(&sim);
        assert_eq!(
            reqs.len(),
            4,
            "instance, item, routes, back-routes: {reqs:?}"
        );
        assert_eq!(w, 1, "sequential waves for a cold task read");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_off_every_task_read_takes_four_requests_in_one_wave() {
    let (sim, e) = engine_with_ttl(0).await;
    bounded(async {
        let wf = start_review(&e).await;
        let id = open_task_id(&e, &wf.id).await;
        let first = e.task(&jdoe(), &id).await.expect("first read");
        sim.clear_requests();
        let again = e.task(&jdoe(), &id).await.expect("second read");
        assert_eq!(first, again);
        let reqs = seen(&sim);
        // The instance, the work item, its routes and its back-routes.
        assert_eq!(reqs.len(), 4, "requests for one task read: {reqs:?}");
        assert!(reqs.iter().all(|r| r.starts_with("GET ")), "{reqs:?}");
        let w = waves(&sim, async {
            e.task(&jdoe(), &id).await.expect("read with delay");
        })
        .await;
        assert_eq!(w, 1, "sequential waves for one task read");
        assert_eq!(e.cached_entries(), 0, "nothing is cached");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_actor_task_list_takes_two_waves() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    bounded(async {
        start_review(&e).await;
        start_review(&e).await;
        let q = || TaskQuery::for_actor("jdoe", ["authors", "workflow-users"]);
        let first = e.tasks(&jdoe(), q()).await.expect("first list");
        assert_eq!(first.total, 2);
        sim.clear_requests();
        let again = e.tasks(&jdoe(), q()).await.expect("warm list");
        assert_eq!(
            first.items, again.items,
            "the cached parts give the same tasks"
        );
        let reqs = seen(&sim);
        // Running and suspended instance lists, then each running instance together
        // with the work item it had; routes come from the cache.
        assert_eq!(reqs.len(), 2 + 2 + 2, "requests: {reqs:?}");
        assert!(
            !reqs.iter().any(|r| r.contains("routes")),
            "routes cached: {reqs:?}"
        );
        let w = waves(&sim, async {
            e.tasks(&jdoe(), q()).await.expect("list with delay");
        })
        .await;
        assert_eq!(w, 2, "sequential waves for a warm actor task list");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_off_an_actor_task_list_takes_three_waves() {
    let (sim, e) = engine_with_ttl(0).await;
    bounded(async {
        start_review(&e).await;
        start_review(&e).await;
        let q = || TaskQuery::for_actor("jdoe", ["authors", "workflow-users"]);
        let first = e.tasks(&jdoe(), q()).await.expect("first list");
        assert_eq!(first.total, 2);
        sim.clear_requests();
        let again = e.tasks(&jdoe(), q()).await.expect("second list");
        assert_eq!(first.items, again.items);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_items_changed_directly_on_the_engine_show_on_the_very_next_read() {
    let (sim, e) = engine_with_ttl(60_000).await;
    bounded(async {
        // Completed in AEM's inbox: the next read shows the task ended, the
        // workflow done.
        let wf = start_review(&e).await;
        let id = open_task_id(&e, &wf.id).await;
        let item = path_of(&id);
        e.task(&jdoe(), &id).await.expect("warm up");
        assert_eq!(
            e.task(&jdoe(), &id).await.expect("warm").state,
            TaskState::Opened
        );
        let approve = route_id(&sim, &item, "Approve").await;
        direct_post(
            &sim,
            "jdoe",
            "/bin/workflow/inbox",
            &[("item", &item), ("route", &approve)],
        )
        .await;
        let t = e.task(&jdoe(), &id).await.expect("read after completion");
        assert_eq!(t.state, TaskState::Ended);
        assert_eq!(t.workflow_state, Some(WorkflowState::Done));
        assert!(t.info.actions.is_empty());

        // Advanced in AEM: the old task is ended at once and the next step's task,
        // a new item of an instance the cache knows, is listed at once.
        let wf = start(&e, "flowgate/two_step_approval").await;
        let id = open_task_id(&e, &wf.id).await;
        let item = path_of(&id);
        let legal = || TaskQuery::for_actor("legal1", ["legal", "workflow-users"]);
        assert_eq!(e.tasks(&legal1(), legal()).await.expect("legal").total, 0);
        e.task(&jdoe(), &id).await.expect("warm up");
        let next = route_id(&sim, &item, "Legal Review").await;
        direct_post(
            &sim,
            "jdoe",
            "/bin/workflow/inbox",
            &[("item", &item), ("route", &next)],
        )
        .await;
        assert_eq!(
            e.task(&jdoe(), &id).await.expect("old task").state,
            TaskState::Ended
        );
        let mine = e
            .tasks(&legal1(), legal())
            .await
            .expect("legal after advance");
        assert_eq!(mine.total, 1, "{mine:?}");
        assert_eq!(mine.items[0].name, "Legal Review");

        // Delegated in AEM: the next read names the new assignee.
        let legal_item = path_of(&mine.items[0].id);
        direct_post(
            &sim,
            "legal1",
            "/bin/workflow/inbox",
            &[("item", &legal_item), ("delegatee", "legal1")],
        )
        .await;
        let t = e
            .task(&legal1(), &mine.items[0].id)
            .await
            .expect("delegated");
        assert_eq!(t.actors, vec!["legal".to_owned()]);
        assert_eq!(t.delegated_actors, vec!["legal1".to_owned()]);

        // Aborted in the workflow console: the next read shows the task cancelled.
        let wf = start_review(&e).await;
        let id = open_task_id(&e, &wf.id).await;
        e.task(&jdoe(), &id).await.expect("warm up");
        direct_post(&sim, "admin", &path_of(&wf.id), &[("state", "ABORTED")]).await;
        let t = e.task(&jdoe(), &id).await.expect("read after abort");
        assert_eq!(t.state, TaskState::Cancelled);
        assert_eq!(t.workflow_state, Some(WorkflowState::Canceled));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_the_adapter_drop_the_cached_parts() {
    let (sim, e) = engine_with_ttl(60_000).await;
    bounded(async {
        let wf = start_review(&e).await;
        let id = open_task_id(&e, &wf.id).await;
        e.task(&jdoe(), &id).await.expect("warm up");
        e.suspend(&editor1(), &wf.id).await.expect("suspend");
        sim.clear_requests();
        let t = e.task(&jdoe(), &id).await.expect("read after suspend");
        assert_eq!(t.workflow_state, Some(WorkflowState::Suspended));
        assert_eq!(
            seen(&sim).len(),
            4,
            "everything read again: {:?}",
            seen(&sim)
        );
        e.resume(&editor1(), &wf.id).await.expect("resume");
        let t = e.task(&jdoe(), &id).await.expect("read after resume");
        assert_eq!(t.workflow_state, Some(WorkflowState::Running));

        // Completing through the adapter: the instance is read again.
        e.task(&jdoe(), &id).await.expect("warm up");
        let c = Completion {
            action: "Approve".into(),
            comment: None,
            variables: Default::default(),
        };
        e.complete(&jdoe(), &id, c).await.expect("complete");
        let t = e.task(&jdoe(), &id).await.expect("read after completion");
        assert_eq!(t.state, TaskState::Ended);
        assert_eq!(t.workflow_state, Some(WorkflowState::Done));

        // Cancelling through the adapter.
        let wf = start_review(&e).await;
        let id = open_task_id(&e, &wf.id).await;
        e.task(&jdoe(), &id).await.expect("warm up");
        e.cancel(&editor1(), &wf.id).await.expect("cancel");
        let t = e.task(&jdoe(), &id).await.expect("read after cancel");
        assert_eq!(t.state, TaskState::Cancelled);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_changes_to_cached_parts_show_once_the_ttl_has_passed() {
    const TTL: Duration = Duration::from_millis(300);
    let (sim, e) = engine_with_ttl(TTL.as_millis() as u64).await;
    bounded(async {
        let wf = start_review(&e).await;
        let id = open_task_id(&e, &wf.id).await;
        let inst = path_of(&wf.id);
        e.task(&jdoe(), &id).await.expect("warm up");
        // A new title and a suspension done in AEM, parts the cache holds.
        direct_post(
            &sim,
            "admin",
            &inst,
            &[("action", "UPDATE"), ("workflowTitle", "Renamed")],
        )
        .await;
        direct_post(&sim, "admin", &inst, &[("state", "SUSPENDED")]).await;
        tokio::time::sleep(TTL + Duration::from_millis(50)).await;
        let t = e.task(&jdoe(), &id).await.expect("read after the TTL");
        assert_eq!(t.workflow_title.as_deref(), Some("Renamed"));
        assert_eq!(t.workflow_state, Some(WorkflowState::Suspended));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_callers_do_not_share_cached_parts() {
    let sim = flowgate_cq::sim::spawn(Profile::Aem64To65)
        .await
        .expect("sim");
    let mut c = config_for(&sim, AuthConfig::Passthrough);
    c.cache_ttl_ms = 60_000;
    let e = CqEngine::new("cq", c).expect("engine");
    let with_password = |mut cx: CallContext| {
        cx.credentials = Some(Credentials::Basic {
            user: cx.user.clone(),
            password: Secret::new(cx.user.clone()),
        });
        cx
    };
    let (jdoe, admin, editor1) = (
        with_password(jdoe()),
        with_password(admin()),
        with_password(editor1()),
    );
    bounded(async {
        let req = StartWorkflow {
            model: "flowgate/review".into(),
            documents: vec![PAGE.to_owned()],
            variables: Default::default(),
        };
        let wf = e.start(&editor1, req).await.expect("start");
        // editor1 (the initiator) lists the workflow's tasks: editor1's entries now
        // hold the instance and the item's routes.
        let id = open_task_id_as(&e, &editor1, &wf.id).await;
        sim.clear_requests();
        e.task(&jdoe, &id).await.expect("jdoe's first read");
        assert_eq!(
            sim.requests().len(),
            4,
            "jdoe is not served from editor1's entries: {:?}",
            seen(&sim)
        );
        sim.clear_requests();
        e.task(&jdoe, &id).await.expect("jdoe warm");
        assert_eq!(seen(&sim).len(), 1, "jdoe's own entries: {:?}", seen(&sim));
        sim.clear_requests();
        e.task(&admin, &id).await.expect("admin's own read");
        let reqs = sim.requests();
        assert_eq!(reqs.len(), 4, "admin has no entries: {:?}", seen(&sim));
        assert!(reqs
            .iter()
            .all(|r| r.header("authorization") != jdoe_basic().as_deref()));
    })
    .await;
}

fn jdoe_basic() -> Option<String> {
    use base64::Engine as _;
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("jdoe:jdoe")
    ))
}

async fn open_task_id_as(e: &CqEngine, cx: &CallContext, wf: &str) -> String {
    let open = e
        .tasks(cx, TaskQuery::for_workflow(wf))
        .await
        .expect("tasks");
    assert_eq!(open.items.len(), 1, "{open:?}");
    open.items[0].id.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_pass_through_inbox_list_takes_two_waves() {
    let sim = flowgate_cq::sim::spawn(Profile::Aem64To65)
        .await
        .expect("sim");
    let mut c = config_for(&sim, AuthConfig::Passthrough);
    c.cache_ttl_ms = 60_000;
    let e = CqEngine::new("cq", c).expect("engine");
    let with_password = |mut cx: CallContext| {
        cx.credentials = Some(Credentials::Basic {
            user: cx.user.clone(),
            password: Secret::new(cx.user.clone()),
        });
        cx
    };
    let (jdoe, editor1) = (with_password(jdoe()), with_password(editor1()));
    bounded(async {
        for _ in 0..2 {
            let req = StartWorkflow {
                model: "flowgate/review".into(),
                documents: vec![PAGE.to_owned()],
                variables: Default::default(),
            };
            e.start(&editor1, req).await.expect("start");
        }
        let q = || TaskQuery::for_actor("jdoe", ["authors", "workflow-users"]);
        let first = e.tasks(&jdoe, q()).await.expect("first list");
        assert_eq!(first.total, 2);
        sim.clear_requests();
        let again = e.tasks(&jdoe, q()).await.expect("warm list");
        assert_eq!(first.items, again.items);
        // The inbox, then each instance together with its inbox item.
        assert_eq!(sim.requests().len(), 1 + 2 + 2, "{:?}", seen(&sim));
        let w = waves(&sim, async {
            e.tasks(&jdoe, q()).await.expect("list with delay");
        })
        .await;
        assert_eq!(w, 2, "sequential waves for a warm inbox list");
    })
    .await;
}
