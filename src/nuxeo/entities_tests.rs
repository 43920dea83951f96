//! Tests of the wire entities: field order, escapes, fetched entities.

use serde_json::{json, Value};

use super::*;

#[test]
fn joined_strings_serialise_as_one_escaped_string_everywhere() {
    let j = Joined::of(["http://h/\"x\"/", "api/v1/", "task/", "a\\b\n"]);
    let want = serde_json::to_string("http://h/\"x\"/api/v1/task/a\\b\n").unwrap();
    assert_eq!(serde_json::to_string(&j).unwrap(), want);
}

#[test]
fn w3c_dates_match_the_general_formatter() {
    use chrono::{Duration, NaiveDate};
    let mut d = Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 58).unwrap();
    for step in 0..2000 {
        assert_eq!(
            w3c(&d),
            d.to_rfc3339_opts(SecondsFormat::Millis, true),
            "{d:?}"
        );
        d += Duration::milliseconds(1_234_567 + step * 977_003_331);
    }
    let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
        .unwrap()
        .and_hms_milli_opt(23, 59, 59, 1_500)
        .unwrap()
        .and_utc();
    assert_eq!(
        w3c(&leap),
        leap.to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    let far = Utc.with_ymd_and_hms(12345, 1, 2, 3, 4, 5).unwrap();
    assert_eq!(w3c(&far), far.to_rfc3339_opts(SecondsFormat::Millis, true));
}
use chrono::TimeZone;
use flowgate_core::{
    Comment, GraphNode, GraphPoint, GraphTransition, NodeState, TaskAction, TaskInfo, TaskState,
    WorkflowState,
};

fn dir() -> Directory {
    let s = crate::settings::Settings::load(&crate::settings::Sources::from_toml(
        "[[auth.groups]]\nname = \"members\"\nlabel = \"Members group\"\n",
    ))
    .unwrap();
    Directory::new(&s.auth)
}

fn ctx() -> RenderCtx {
    RenderCtx {
        base: "http://localhost:8080/nuxeo/".into(),
        repository: "default".into(),
        ..RenderCtx::default()
    }
}

fn task() -> Task {
    let t0 = Utc.with_ymd_and_hms(2024, 5, 2, 9, 41, 7).unwrap();
    let mut vars = Variables::new();
    vars.insert("comment".into(), Value::Null);
    vars.insert("participants".into(), json!([]));
    Task {
        id: "t1".into(),
        name: "wf.serialDocumentReview.chooseParticipants".into(),
        workflow_id: Some("w1".into()),
        workflow_model_name: Some("SerialDocumentReview".into()),
        workflow_initiator: Some("Administrator".into()),
        workflow_title: Some("wf.serialDocumentReview.SerialDocumentReview".into()),
        workflow_state: Some(WorkflowState::Running),
        state: TaskState::Opened,
        directive: Some("wf.serialDocumentReview.pleaseSelect".into()),
        created: t0,
        due_date: None,
        node_id: "Task38e".into(),
        target_documents: vec!["d1".into()],
        actors: vec!["Administrator".into()],
        delegated_actors: vec![],
        comments: vec![Comment {
            author: "jdoe".into(),
            text: None,
            date: t0,
        }],
        variables: vars,
        info: TaskInfo {
            allow_reassignment: false,
            actions: vec![TaskAction {
                name: "cancel".into(),
                label: "wf.serialDocumentReview.cancel".into(),
                validate: false,
            }],
            schemas: vec!["var_Task38e".into()],
        },
        initiator: Some("Administrator".into()),
    }
}

#[test]
fn odd_tasks_serialise_escaped_in_order() {
    let s = crate::settings::Settings::load(&crate::settings::Sources::from_toml(
        "[[auth.users]]\nname = \"Administrator\"\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1$RkWvW/mhjhUJqm14SNAm0g$TvgCkEX90TvTSavFt8+dl59lPJ9uNbn1MduQj2SPV3w\"\ngroups = [\"members\"]\n\
         [[auth.groups]]\nname = \"members\"\nlabel = \"Members \\\"group\\\"\"\n",
    ))
    .unwrap();
    let d = Directory::new(&s.auth);
    let plain = ctx();
    let mut fetching = ctx();
    fetching.fetch.insert(
        "task".to_owned(),
        ["actors", "targetDocumentIds", "workflowInitiator"]
            .into_iter()
            .map(str::to_owned)
            .collect(),
    );
    let mut docs = HashMap::new();
    docs.insert(
        "d1".to_owned(),
        Document {
            id: "d1".into(),
            path: Some("/default-domain/ws/n\u{f6}te \"1\"".into()),
            ..Document::default()
        },
    );
    let base = task();
    let mut odd = task();
    odd.id = "t\"2\\".into();
    odd.workflow_id = None;
    odd.directive = None;
    odd.due_date = Some(Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap());
    odd.actors = vec!["group:members".into(), "user:nobody".into(), "x\ty".into()];
    odd.delegated_actors = vec!["Administrator".into()];
    odd.comments[0].text = Some("line\nbreak \u{1} \u{2713}".into());
    odd.variables.insert(
        "nested".into(),
        json!({"a": [1, 2.5, null, "s\"q"], "b": true}),
    );
    odd.info.actions.clear();
    odd.info.schemas.clear();
    odd.target_documents.push("d2".into());
    for c in [&plain, &fetching] {
        let r = Renderer {
            ctx: c,
            directory: &d,
            documents: &docs,
        };
        for t in [&base, &odd] {
            let e = r.task(t);
            let text = serde_json::to_string(&e).unwrap();
            assert!(text.starts_with(r#"{"entity-type":"task","id":"#), "{text}");
            let back: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, serde_json::to_value(&e).unwrap());
            if t.id.contains('"') {
                assert!(text.contains(r#""id":"t\"2\\""#), "{text}");
                assert!(text.contains(r#""text":"line\nbreak \u0001 ✓""#), "{text}");
            }
        }
    }
}

#[test]
fn task_renders_in_nuxeo_field_order() {
    let d = dir();
    let c = ctx();
    let docs = HashMap::new();
    let r = Renderer {
        ctx: &c,
        directory: &d,
        documents: &docs,
    };
    let t = task();
    let s = serde_json::to_string(&r.task(&t)).unwrap();
    let expected = concat!(
        r#"{"entity-type":"task","id":"t1","name":"wf.serialDocumentReview.chooseParticipants","#,
        r#""workflowInstanceId":"w1","workflowModelName":"SerialDocumentReview","workflowInitiator":"Administrator","#,
        r#""workflowTitle":"wf.serialDocumentReview.SerialDocumentReview","workflowLifeCycleState":"running","#,
        r#""graphResource":"http://localhost:8080/nuxeo/api/v1/workflow/w1/graph","state":"opened","#,
        r#""directive":"wf.serialDocumentReview.pleaseSelect","created":"2024-05-02T09:41:07.000Z","dueDate":null,"#,
        r#""nodeName":"Task38e","targetDocumentIds":[{"id":"d1"}],"actors":[{"id":"Administrator"}],"delegatedActors":[],"#,
        r#""comments":[{"author":"jdoe","text":null,"date":"2024-05-02T09:41:07.000Z"}],"#,
        r#""variables":{"comment":null,"participants":[]},"#,
        r#""taskInfo":{"allowTaskReassignment":false,"taskActions":[{"name":"cancel","url":"http://localhost:8080/nuxeo/api/v1/task/t1/cancel","label":"wf.serialDocumentReview.cancel","validate":false}],"#,
        r#""layoutResource":{"name":"Task38e@taskLayout","url":"http://localhost:8080/nuxeo/site/layout-manager/layouts/?layoutName=Task38e@taskLayout"},"#,
        r#""schemas":[{"name":"var_Task38e","url":"http://localhost:8080/nuxeo/api/v1/config/schemas/var_Task38e"}]}}"#
    );
    assert_eq!(s, expected);
}

#[test]
fn standalone_task_omits_workflow_fields_but_keeps_null_instance_id() {
    let d = dir();
    let c = ctx();
    let docs = HashMap::new();
    let r = Renderer {
        ctx: &c,
        directory: &d,
        documents: &docs,
    };
    let mut t = task();
    t.workflow_id = None;
    let v = serde_json::to_value(r.task(&t)).unwrap();
    assert_eq!(v["workflowInstanceId"], Value::Null);
    assert!(v.get("workflowModelName").is_none());
    assert!(v.get("graphResource").is_none());
}

#[test]
fn fetched_actors_and_documents_become_entities() {
    let d = dir();
    let mut c = ctx();
    c.fetch.insert(
        "task".into(),
        ["actors".to_string(), "targetDocumentIds".to_string()].into(),
    );
    let docs = HashMap::new();
    let r = Renderer {
        ctx: &c,
        directory: &d,
        documents: &docs,
    };
    let mut t = task();
    t.actors = vec!["group:members".into(), "ghost".into()];
    let v = serde_json::to_value(r.task(&t)).unwrap();
    assert_eq!(v["actors"][0]["entity-type"], "group");
    assert_eq!(v["actors"][0]["id"], "members");
    assert_eq!(v["actors"][1], json!({"id": "ghost"}));
    assert_eq!(v["targetDocumentIds"][0]["entity-type"], "document");
    assert_eq!(v["targetDocumentIds"][0]["uid"], "d1");
}

#[test]
fn workflow_and_model_render_with_graph_resources() {
    let d = dir();
    let c = ctx();
    let docs = HashMap::new();
    let r = Renderer {
        ctx: &c,
        directory: &d,
        documents: &docs,
    };
    let w = WorkflowInstance {
        id: "w1".into(),
        name: "SerialDocumentReview".into(),
        title: "t".into(),
        state: WorkflowState::Canceled,
        model_name: "SerialDocumentReview".into(),
        initiator: Some("Administrator".into()),
        attached_documents: vec!["d1".into()],
        variables: Variables::new(),
        created: Utc::now(),
        ended: None,
    };
    let s = serde_json::to_string(&r.workflow(&w)).unwrap();
    assert!(s.starts_with(r#"{"entity-type":"workflow","id":"w1","name":"SerialDocumentReview","title":"t","state":"canceled","workflowModelName":"SerialDocumentReview","initiator":"Administrator","attachedDocumentIds":[{"id":"d1"}],"variables":{},"graphResource":"http://localhost:8080/nuxeo/api/v1/workflow/w1/graph"}"#), "{s}");
    let m = WorkflowModel {
        id: "m1".into(),
        name: "ParallelDocumentReview".into(),
        title: "t".into(),
        variables: vec![],
    };
    let v = serde_json::to_value(r.model(&m)).unwrap();
    assert_eq!(v["state"], "validated");
    assert_eq!(v["initiator"], Value::Null);
    assert_eq!(
        v["graphResource"],
        "http://localhost:8080/nuxeo/api/v1/workflowModel/ParallelDocumentReview/graph"
    );
}

#[test]
fn graph_has_nodes_then_transitions() {
    let g = Graph {
        nodes: vec![GraphNode {
            id: "n1".into(),
            title: "Start".into(),
            x: 1,
            y: 2,
            start: true,
            end: false,
            state: NodeState::Validated,
            merge: false,
            multi_task: false,
            sub_workflow: false,
        }],
        transitions: vec![GraphTransition {
            source: "n1".into(),
            target: "n2".into(),
            label: "".into(),
            path: vec![GraphPoint { x: 0.0, y: 80.0 }],
        }],
    };
    let s = serde_json::to_string(&GraphEntity::from_graph(&g)).unwrap();
    assert_eq!(
        s,
        r#"{"entity-type":"graph","nodes":[{"x":1,"y":2,"isStartNode":true,"isEndNode":false,"id":"n1","title":"Start","state":"validated","isMerge":false,"isMultiTask":false,"hasSubWorkflow":false,"startNode":true,"endNode":false}],"transitions":[{"nodeSourceId":"n1","nodeTargetId":"n2","label":"","path":[{"x":0.0,"y":80.0}]}]}"#
    );
}
