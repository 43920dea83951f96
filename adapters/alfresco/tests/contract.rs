//! Holds the adapter and the simulator to Alfresco's published contract
//! (`contract/alfresco-workflow.yaml`, `contract/alfresco-auth.yaml`, copied unmodified
//! from Alfresco's REST API Explorer): every request the adapter sends must match a
//! path template and declared query parameters of the contract, and every simulator
//! response the adapter relies on must satisfy the contract's response schema.
//!
//! The contract is wrong in known places (see the README and `contract/SOURCE.md`); the
//! only tolerances applied are listed in `KNOWN_DEFECTS` and `EXTRA_OPERATIONS`, each
//! one a documented difference between the published file and the real server.

mod common;

use std::time::Duration;

use base64::Engine as _;
use flowgate_alfresco::sim::{nodes, RecordedRequest, SimHandle};
use flowgate_alfresco::AuthMode;
use flowgate_core::{
    Completion, DocLocator, StartWorkflow, TaskQuery, WorkflowEngine, WorkflowQuery,
};
use serde_json::{json, Value};

const WF_BASE: &str = "/alfresco/api/-default-/public/workflow/versions/1";
const AUTH_BASE: &str = "/alfresco/api/-default-/public/authentication/versions/1";

/// Operations the real server serves that the contract omits: (method, template, query).
const EXTRA_OPERATIONS: &[(&str, &str, &[&str])] = &[
    (
        "GET",
        "/processes/{processId}/activities",
        &["skipCount", "maxItems", "status"],
    ),
    ("GET", "/processes/{processId}/image", &[]),
];

/// Query parameters the server accepts beyond the contract, per operation.
const EXTRA_QUERY: &[(&str, &str, &str)] = &[("GET", "/processes/{processId}/tasks", "status")];

/// Calls outside every published definition, allowed by prefix and shape.
const NON_CONTRACT: &[(&str, &str)] = &[
    (
        "GET",
        "/alfresco/api/-default-/public/alfresco/versions/1/nodes/",
    ),
    ("GET", "/alfresco/service/api/node/workspace/SpacesStore/"),
];

fn load(name: &str) -> Value {
    let path = format!("{}/contract/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("contract file");
    let y: serde_yaml::Value = serde_yaml::from_str(&text).expect("contract parses");
    serde_json::to_value(y).expect("contract as JSON")
}

/// Applies the documented defects of the published file (README "Contract differences").
fn patched(mut c: Value) -> Value {
    let defs = &mut c["definitions"];
    // Variable values are any JSON value, not integers.
    for d in ["Variable", "VariableBody"] {
        if let Some(v) = defs[d]["properties"]["value"].as_object_mut() {
            v.remove("type");
        }
    }
    // Item authors are user names, not Person objects.
    for f in ["createdBy", "modifiedBy"] {
        defs["Item"]["properties"][f] = json!({"type": "string"});
    }
    // `delegated` is a task state.
    for d in ["Task", "TaskBody"] {
        if let Some(e) = defs[d]["properties"]["state"]["enum"].as_array_mut() {
            e.push(json!("delegated"));
        }
    }
    c
}

struct Op {
    method: String,
    base: &'static str,
    template: String,
    query: Vec<String>,
    schema: Option<Value>,
}

fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let mut cur = root;
            for part in r.trim_start_matches("#/").split('/') {
                cur = &cur[part];
            }
            resolve(root, cur)
        }
        None => v,
    }
}

fn operations(c: &Value, base: &'static str) -> Vec<Op> {
    let mut out = Vec::new();
    let Some(paths) = c["paths"].as_object() else {
        return out;
    };
    for (template, item) in paths {
        let Some(methods) = item.as_object() else {
            continue;
        };
        for (method, op) in methods {
            if !matches!(method.as_str(), "get" | "post" | "put" | "delete") {
                continue;
            }
            let mut query = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let p = resolve(c, p);
                if p["in"] == "query" {
                    query.push(p["name"].as_str().unwrap_or_default().to_owned());
                }
            }
            let ok = ["200", "201"]
                .iter()
                .find_map(|s| op["responses"].get(*s))
                .and_then(|r| r.get("schema"))
                .cloned();
            out.push(Op {
                method: method.to_uppercase(),
                base,
                template: template.clone(),
                query,
                schema: ok,
            });
        }
    }
    for (m, t, q) in EXTRA_OPERATIONS {
        if base == WF_BASE {
            out.push(Op {
                method: (*m).into(),
                base,
                template: (*t).into(),
                query: q.iter().map(|s| (*s).to_owned()).collect(),
                schema: None,
            });
        }
    }
    for (m, t, q) in EXTRA_QUERY {
        if let Some(op) = out.iter_mut().find(|o| o.method == *m && o.template == *t) {
            op.query.push((*q).to_owned());
        }
    }
    out
}

fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(a, b)| (a.starts_with('{') && a.ends_with('}') && !b.is_empty()) || a == b)
}

fn find_op<'a>(ops: &'a [Op], method: &str, path: &str) -> Option<&'a Op> {
    let rel = path.strip_prefix(ops.first()?.base)?;
    // Literal templates win over parameterised ones (`/tickets/-me-`).
    ops.iter()
        .filter(|o| o.method == method && matches_template(&o.template, rel))
        .min_by_key(|o| o.template.matches('{').count())
}

/// Drives the adapter through everything it does, so that the simulator records it.
async fn exercise(sim: &SimHandle) {
    let e = common::engine(sim, AuthMode::Ticket);
    let admin = common::admin();
    let dave = common::user("dave", &[]);
    let jdoe = common::user("jdoe", &["reviewers"]);
    e.models(&dave).await.expect("models");
    e.model(&dave, "activitiReview").await.expect("model");
    e.model_graph(&dave, "activitiReview")
        .await
        .expect("model graph");
    let start = |model: &str, vars: Value| StartWorkflow {
        model: model.into(),
        documents: vec![
            nodes::CONTRACT.into(),
            "/Sites/finance/documentLibrary/budget.xlsx".into(),
        ],
        variables: vars.as_object().cloned().unwrap_or_default(),
    };
    let wf = e
        .start(
            &dave,
            start(
                "activitiReview",
                json!({"assignee": "jdoe", "dueDate": "2030-01-01T10:00:00.000Z"}),
            ),
        )
        .await
        .expect("start");
    e.workflow(&dave, &wf.id).await.expect("workflow");
    e.workflow_graph(&dave, &wf.id).await.expect("graph");
    e.workflows(
        &dave,
        WorkflowQuery {
            initiator: Some("dave".into()),
            ..Default::default()
        },
    )
    .await
    .expect("workflows");
    e.workflows(
        &admin,
        WorkflowQuery {
            document: Some(nodes::CONTRACT.into()),
            ..Default::default()
        },
    )
    .await
    .expect("workflows of a document");
    let mine = e
        .tasks(&jdoe, TaskQuery::for_actor("jdoe", ["reviewers"]))
        .await
        .expect("my tasks");
    let t = mine.items.first().expect("a task").clone();
    e.tasks(
        &admin,
        TaskQuery {
            document: Some(nodes::CONTRACT.into()),
            ..Default::default()
        },
    )
    .await
    .expect("tasks of a document");
    e.reassign(&admin, &t.id, vec!["bob".into()], Some("bob please".into()))
        .await
        .expect("reassign");
    e.delegate(&admin, &t.id, vec!["carol".into()], None)
        .await
        .expect("delegate");
    let carol = common::user("carol", &[]);
    e.complete(
        &carol,
        &t.id,
        Completion {
            action: "approve".into(),
            comment: Some("ok".into()),
            ..Default::default()
        },
    )
    .await
    .expect("complete");
    let pooled = e
        .start(
            &dave,
            start(
                "activitiReviewPooled",
                json!({"groupAssignee": "group:reviewers"}),
            ),
        )
        .await
        .expect("start pooled");
    let pt = e
        .tasks(&admin, TaskQuery::for_workflow(&pooled.id))
        .await
        .expect("pooled tasks");
    e.complete(
        &jdoe,
        &pt.items[0].id,
        Completion {
            action: "reject".into(),
            ..Default::default()
        },
    )
    .await
    .expect("complete pooled");
    e.cancel(&dave, &pooled.id).await.expect("cancel");
    e.document(
        &admin,
        &DocLocator::Path("/Sites/finance/documentLibrary/contract.pdf".into()),
    )
    .await
    .expect("document");
    let _ = e.health().await;
}

fn check_request(ops_wf: &[Op], ops_auth: &[Op], r: &RecordedRequest) -> Result<(), String> {
    let ops = if r.path.starts_with(WF_BASE) {
        ops_wf
    } else if r.path.starts_with(AUTH_BASE) {
        ops_auth
    } else if NON_CONTRACT
        .iter()
        .any(|(m, p)| *m == r.method && r.path.starts_with(p))
    {
        return Ok(());
    } else {
        return Err(format!(
            "{} {} is outside every known API",
            r.method, r.path
        ));
    };
    let op = find_op(ops, &r.method, &r.path).ok_or_else(|| {
        format!(
            "{} {} matches no operation of the contract",
            r.method, r.path
        )
    })?;
    for (k, _) in &r.query {
        if !op.query.iter().any(|q| q == k) {
            return Err(format!(
                "{} {}: query parameter '{k}' is not declared for {}",
                r.method, r.path, op.template
            ));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_adapter_request_matches_the_published_contract() {
    let sim = common::sim();
    tokio::time::timeout(Duration::from_secs(60), exercise(&sim))
        .await
        .expect("bounded");
    let wf = operations(&patched(load("alfresco-workflow.yaml")), WF_BASE);
    let auth = operations(&load("alfresco-auth.yaml"), AUTH_BASE);
    let reqs = sim.requests();
    assert!(
        reqs.len() > 30,
        "the scenario exercised the adapter: {} requests",
        reqs.len()
    );
    let problems: Vec<String> = reqs
        .iter()
        .filter_map(|r| check_request(&wf, &auth, r).err())
        .collect();
    assert!(
        problems.is_empty(),
        "requests outside the contract:\n{}",
        problems.join("\n")
    );
    // Every workflow resource the adapter depends on was really exercised.
    for needed in [
        "/process-definitions",
        "/processes",
        "/tasks",
        "/items",
        "/variables",
        "/candidates",
        "/task-form-model",
        "/start-form-model",
        "/activities",
    ] {
        assert!(
            reqs.iter().any(|r| r.path.contains(needed)),
            "scenario never used {needed}"
        );
    }
}

// ---------- response validation ----------

fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let schema = resolve(root, schema);
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{at}: {v} not in {e:?}"));
        }
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let ok = match ty {
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        _ => true,
    };
    if !ok {
        errs.push(format!("{at}: expected {}, got {v}", ty.unwrap_or("?")));
        return;
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        v.as_object(),
    ) {
        for (k, s) in props {
            if let Some(x) = obj.get(k) {
                validate(root, s, x, &format!("{at}.{k}"), errs);
            }
        }
    }
    if let (Some(req), Some(obj)) = (
        schema.get("required").and_then(Value::as_array),
        v.as_object(),
    ) {
        for k in req.iter().filter_map(Value::as_str) {
            if !obj.contains_key(k) {
                errs.push(format!("{at}: required '{k}' missing"));
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(root, items, x, &format!("{at}[{i}]"), errs);
        }
    }
}

async fn call(
    sim: &SimHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}{}", sim.base_url.trim_end_matches("/alfresco/"), path);
    let auth = base64::engine::general_purpose::STANDARD.encode("admin:admin");
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("Authorization", format!("Basic {auth}"))
        .timeout(Duration::from_secs(10));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("simulator answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_responses_satisfy_the_contract_schemas() {
    let sim = common::sim();
    let root = patched(load("alfresco-workflow.yaml"));
    let ops = operations(&root, WF_BASE);
    let (s, started) = call(
        &sim,
        reqwest::Method::POST,
        &format!("{WF_BASE}/processes"),
        Some(json!({"processDefinitionKey": "activitiReviewPooled", "businessKey": "k1",
                    "variables": {"bpm_groupAssignee": "GROUP_reviewers", "bpm_workflowDueDate": "2030-01-01T00:00:00.000+0000"},
                    "items": [nodes::CONTRACT]})),
    )
    .await;
    assert_eq!(s, 201, "{started}");
    let pid = started["entry"]["id"]
        .as_str()
        .expect("process id")
        .to_owned();
    let (_, tasks) = call(
        &sim,
        reqwest::Method::GET,
        &format!("{WF_BASE}/processes/{pid}/tasks"),
        None,
    )
    .await;
    let tid = tasks["list"]["entries"][0]["entry"]["id"]
        .as_str()
        .expect("task id")
        .to_owned();
    let (_, defs) = call(
        &sim,
        reqwest::Method::GET,
        &format!("{WF_BASE}/process-definitions"),
        None,
    )
    .await;
    let def = defs["list"]["entries"][0]["entry"]["id"]
        .as_str()
        .expect("def id")
        .to_owned();

    let mut checked = vec![("POST", format!("{WF_BASE}/processes"), 201, started)];
    for path in [
        "/process-definitions".to_string(),
        format!("/process-definitions/{def}"),
        format!("/process-definitions/{def}/start-form-model"),
        "/processes?where=(status%3D'any')".to_string(),
        format!("/processes/{pid}"),
        format!("/processes/{pid}/items"),
        format!("/processes/{pid}/variables"),
        format!("/processes/{pid}/tasks"),
        "/tasks?where=(candidateGroup%3D'GROUP_reviewers')".to_string(),
        format!("/tasks/{tid}"),
        format!("/tasks/{tid}/task-form-model"),
        format!("/tasks/{tid}/variables"),
        format!("/tasks/{tid}/candidates"),
        format!("/tasks/{tid}/items"),
    ] {
        let full = format!("{WF_BASE}{path}");
        let (s, body) = call(&sim, reqwest::Method::GET, &full, None).await;
        checked.push(("GET", full, s, body));
    }
    let put = format!("{WF_BASE}/tasks/{tid}?select=state");
    let (s, body) = call(
        &sim,
        reqwest::Method::PUT,
        &put,
        Some(json!({"state": "claimed"})),
    )
    .await;
    checked.push(("PUT", put, s, body));

    let mut errs = Vec::new();
    for (method, full, status, body) in &checked {
        assert!(
            (200..300).contains(status),
            "{method} {full} answered {status}: {body}"
        );
        let path = full.split('?').next().unwrap_or(full);
        let op = find_op(&ops, method, path)
            .unwrap_or_else(|| panic!("{method} {path} not in contract"));
        let schema = op
            .schema
            .as_ref()
            .unwrap_or_else(|| panic!("{method} {path} has no response schema"));
        validate(&root, schema, body, &format!("{method} {path}"), &mut errs);
    }
    // Errors use the contract's Error shape.
    let (s, body) = call(
        &sim,
        reqwest::Method::GET,
        &format!("{WF_BASE}/tasks/999999"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    validate(
        &root,
        &json!({"$ref": "#/definitions/Error"}),
        &body,
        "404 body",
        &mut errs,
    );
    assert!(
        errs.is_empty(),
        "simulator responses break the contract:\n{}",
        errs.join("\n")
    );

    // Login per the auth contract.
    let auth_root = load("alfresco-auth.yaml");
    let url = format!(
        "{}{AUTH_BASE}/tickets",
        sim.base_url.trim_end_matches("/alfresco/")
    );
    let resp = reqwest::Client::new()
        .post(url)
        .json(&json!({"userId": "jdoe", "password": "jdoe"}))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status().as_u16(), 201);
    let body: Value = resp.json().await.expect("json");
    let mut errs = Vec::new();
    validate(
        &auth_root,
        &json!({"$ref": "#/definitions/TicketEntry"}),
        &body,
        "ticket",
        &mut errs,
    );
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn the_checks_reject_what_the_contract_does_not_allow() {
    let wf = operations(&patched(load("alfresco-workflow.yaml")), WF_BASE);
    let auth = operations(&load("alfresco-auth.yaml"), AUTH_BASE);
    let req = |m: &str, p: &str, q: &[(&str, &str)]| RecordedRequest {
        method: m.into(),
        path: p.into(),
        query: q.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        status: 200,
        user: None,
    };
    let ok = req("GET", &format!("{WF_BASE}/tasks/12"), &[]);
    assert!(check_request(&wf, &auth, &ok).is_ok());
    let bad_query = req("GET", &format!("{WF_BASE}/tasks"), &[("bogus", "1")]);
    assert!(check_request(&wf, &auth, &bad_query).is_err());
    let bad_path = req("GET", &format!("{WF_BASE}/tasks/12/comments"), &[]);
    assert!(check_request(&wf, &auth, &bad_path).is_err());
    let bad_method = req("DELETE", &format!("{WF_BASE}/tasks/12"), &[]);
    assert!(check_request(&wf, &auth, &bad_method).is_err());
    let root = patched(load("alfresco-workflow.yaml"));
    let mut errs = Vec::new();
    validate(
        &root,
        &json!({"$ref": "#/definitions/Error"}),
        &json!({"error": {"statusCode": "x"}}),
        "e",
        &mut errs,
    );
    assert!(errs.len() >= 2, "{errs:?}");
    let mut errs = Vec::new();
    validate(
        &root,
        &json!({"$ref": "#/definitions/TaskEntry"}),
        &json!({"entry": {"id": "1", "state": "sleeping"}}),
        "t",
        &mut errs,
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
}
