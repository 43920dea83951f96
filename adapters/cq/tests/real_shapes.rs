//! The adapter against a simulator answering with only the fields public sources show
//! (`SimFields::Minimal`): initiators, actors, ended tasks and lost starts without
//! start metadata, `currentAssignee` or history `workItem`; and starts of transient
//! models, whose instance AEM never stores.

mod common;

use common::*;
use flowgate_core::{
    Completion, Credentials, ErrorKind, Secret, StartWorkflow, TaskQuery, TaskState,
    WorkflowEngine, WorkflowState,
};
use flowgate_cq::sim::{CqSim, Fault, FaultAction, SimOptions};
use flowgate_cq::{AuthConfig, CqEngine, Profile};
use serde_json::Value;

fn review() -> StartWorkflow {
    StartWorkflow {
        model: "flowgate/review".into(),
        documents: vec![id_of(PAGE)],
        variables: Default::default(),
    }
}

fn posts(sim: &CqSim, path: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .count()
}

fn drop_next_start(sim: &CqSim) {
    sim.add_fault(
        Fault::on(
            "POST",
            "/etc/workflow/instances",
            FaultAction::DropBeforeResponse {
                apply_effects: true,
            },
        )
        .times(1),
    );
}

#[tokio::test]
async fn the_minimal_renderings_really_lack_the_simulator_only_fields() {
    let (sim, e) = engine_with(minimal(Profile::Aem64To65)).await;
    let wf = e.start(&editor1(), review()).await.expect("start");
    let client = reqwest::Client::new();
    let get = |path: String| {
        let url = format!("{}{}", sim.base_url(), path.trim_start_matches('/'));
        let client = client.clone();
        async move {
            client
                .get(url)
                .basic_auth("admin", Some("admin"))
                .send()
                .await
                .expect("GET")
                .json::<Value>()
                .await
                .expect("JSON")
        }
    };
    let inst_path = sim
        .instances_in_state("RUNNING")
        .pop()
        .expect("one running");
    let inst = get(format!("{inst_path}.json")).await;
    assert!(inst.get("metaData").is_none(), "{inst}");
    assert_eq!(inst["initiator"], "admin", "CQ names the service account");
    let item = inst["workItems"][0]["id"]
        .as_str()
        .expect("item")
        .to_owned();
    let item_json = get(format!("{item}.json")).await;
    assert!(item_json.get("currentAssignee").is_none(), "{item_json}");
    // Still the caller, from the engine's own record of the start.
    assert_eq!(wf.initiator.as_deref(), Some("editor1"));
    let read = e
        .workflow(&editor1(), &wf.id)
        .await
        .expect("initiator reads");
    assert_eq!(read.initiator.as_deref(), Some("editor1"));
}

#[tokio::test]
async fn ended_tasks_keep_their_comments_from_rows_without_work_item() {
    let (_sim, e) = engine_with(minimal(Profile::Aem64To65)).await;
    let wf = e.start(&editor1(), review()).await.expect("start");
    let t = e
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .expect("tasks")
        .items
        .pop()
        .expect("the review");
    assert_eq!(t.actors, vec!["jdoe".to_owned()], "participant as actor");
    let c = Completion {
        action: "Approve".into(),
        comment: Some("looks right".into()),
        ..Default::default()
    };
    e.complete(&jdoe(), &t.id, c).await.expect("complete");
    let ended = e.task(&admin(), &t.id).await.expect("ended task");
    assert_eq!(ended.state, TaskState::Ended);
    let texts: Vec<_> = ended
        .comments
        .iter()
        .map(|c| (c.author.as_str(), c.text.as_deref()))
        .collect();
    // CQ records who posted the completion: with a service account, that account.
    assert_eq!(texts, vec![("admin", Some("looks right"))]);
    // An unknown item of the same instance is still unknown.
    let wf_path = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            wf.id.as_bytes(),
        )
        .expect("id"),
    )
    .expect("utf-8");
    let bogus = id_of(&format!("{wf_path}/workItems/node9_x"));
    let err = e.task(&admin(), &bogus).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
}

#[tokio::test]
async fn a_lost_start_is_recovered_without_start_metadata() {
    let (sim, e) = engine_with(minimal(Profile::Aem64To65)).await;
    drop_next_start(&sim);
    let wf = e
        .start(&editor1(), review())
        .await
        .expect("recovered start");
    assert_eq!(posts(&sim, "/etc/workflow/instances"), 1, "never re-posted");
    assert_eq!(wf.initiator.as_deref(), Some("editor1"));
    assert_eq!(sim.instances_in_state("RUNNING").len(), 1);
    // Once recovered, the instance is known as this start: the initiator may cancel.
    e.cancel(&editor1(), &wf.id)
        .await
        .expect("initiator cancels");
}

#[tokio::test]
async fn a_lost_start_among_several_lookalikes_is_a_conflict_not_a_retry() {
    let (sim, e) = engine_with(minimal(Profile::Aem64To65)).await;
    // Another gateway (another engine, its own record) starts the same review.
    let other =
        CqEngine::new("cq", config_for(&sim, service_auth(Profile::Aem64To65))).expect("engine");
    other.start(&jdoe(), review()).await.expect("other start");
    drop_next_start(&sim);
    let err = e.start(&editor1(), review()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");
    assert!(
        err.message().contains("do not repeat it"),
        "{}",
        err.message()
    );
    assert_eq!(sim.instances_in_state("RUNNING").len(), 2, "both ran");
}

#[tokio::test]
async fn a_delegation_shows_from_the_callers_inbox_row_with_passthrough() {
    let (sim, e) = engine_with(minimal(Profile::Aem64To65)).await;
    let wf = e.start(&editor1(), review()).await.expect("start");
    let t = e
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .expect("tasks")
        .items
        .pop()
        .expect("the review");
    e.delegate(&editor1(), &t.id, vec!["dam1".into()], None)
        .await
        .expect("delegate");
    // A second engine with pass-through auth has no record of that delegation: the
    // inbox row of the caller names the assignee.
    let p = CqEngine::new("cq", config_for(&sim, AuthConfig::Passthrough)).expect("engine");
    let mut cx = dam1();
    cx.credentials = Some(Credentials::Basic {
        user: "dam1".into(),
        password: Secret::new("dam1"),
    });
    let mine = p
        .tasks(&cx, TaskQuery::for_actor("dam1", ["dam-users"]))
        .await
        .expect("dam1's tasks");
    assert_eq!(mine.items.len(), 1, "{mine:?}");
    assert_eq!(mine.items[0].actors, vec!["jdoe".to_owned()]);
    assert_eq!(mine.items[0].delegated_actors, vec!["dam1".to_owned()]);
}

#[tokio::test]
async fn a_transient_start_is_a_success_that_cannot_be_read_back() {
    let mut o = SimOptions::new(Profile::Aem64To65);
    o.transient_models = vec!["publish_example".into()];
    let (sim, e) = engine_with(o).await;
    let req = StartWorkflow {
        model: "publish_example".into(),
        documents: vec![id_of(PAGE)],
        variables: serde_json::json!({"title": "quick publish"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let wf = e.start(&editor1(), req).await.expect("started, not stored");
    assert_eq!(posts(&sim, "/etc/workflow/instances"), 1, "never re-posted");
    assert_eq!(
        wf.variables.get("cqInstanceStored"),
        Some(&Value::Bool(false))
    );
    assert_eq!(wf.state, WorkflowState::Running);
    assert_eq!(wf.model_name, "publish_example");
    assert_eq!(wf.title, "quick publish");
    assert_eq!(wf.initiator.as_deref(), Some("editor1"));
    assert_eq!(wf.attached_documents, vec![id_of(PAGE)]);
    assert!(wf
        .id
        .starts_with(&id_of("/var/workflow/instances/server0/")[..20]));
    let err = e.workflow(&editor1(), &wf.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    let tasks = e
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .expect("tasks of an unstored instance");
    assert!(tasks.items.is_empty());
    // A stored model on the same simulator is verified as before.
    let stored = e.start(&editor1(), review()).await.expect("stored start");
    assert!(!stored.variables.contains_key("cqInstanceStored"));
    assert_eq!(
        e.workflow(&editor1(), &stored.id).await.expect("read").id,
        stored.id
    );
}

#[tokio::test]
async fn a_2xx_naming_no_instance_of_the_model_stays_an_upstream_error() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    sim.add_fault(Fault::on("POST", "/etc/workflow/instances", FaultAction::JunkCreated).times(1));
    let err = e.start(&editor1(), review()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    assert!(err.message().contains("created no workflow instance"));
}
