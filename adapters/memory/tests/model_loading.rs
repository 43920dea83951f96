//! Model files are checked at load: a broken file is an error naming file, node and problem.

use std::path::Path;

use flowgate_memory::{validate_dir, MemoryEngine, ModelError};
use serde_json::{json, Value};

/// A small valid model: start → review (approve/reject) → stop, reject loops back.
fn good() -> Value {
    json!({
        "name": "Mini",
        "title": "wf.mini",
        "variables": [{"name": "count", "type": "integer", "default": 0}],
        "nodes": [
            {"id": "start", "title": "Start", "start": true,
             "transitions": [{"name": "go", "target": "review"}]},
            {"id": "review", "title": "wf.mini.review",
             "task": {"assignees": "initiator",
                      "buttons": [{"name": "approve", "label": "a"}, {"name": "reject", "label": "r"}]},
             "variables": [{"name": "comment", "type": "string"}],
             "output": [{"set": "WorkflowVariables.count", "value": "WorkflowVariables.count + 1"}],
             "transitions": [
                 {"name": "ok", "condition": "button == 'approve'", "target": "end"},
                 {"name": "again", "condition": "button == 'reject'", "target": "review"}
             ]},
            {"id": "end", "title": "Stop", "stop": true}
        ]
    })
}

fn load(model: &Value) -> Result<Vec<String>, ModelError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Mini.json"), model.to_string()).unwrap();
    validate_dir(dir.path())
}

fn broken(edit: impl FnOnce(&mut Value)) -> ModelError {
    let mut m = good();
    edit(&mut m);
    load(&m).expect_err("the model must be refused")
}

fn assert_names(e: &ModelError, node: Option<&str>, problem: &str) {
    let msg = e.to_string();
    assert!(msg.contains("Mini.json"), "file missing from: {msg}");
    assert_eq!(e.node.as_deref(), node, "{msg}");
    if let Some(n) = node {
        assert!(
            msg.contains(&format!("node '{n}'")),
            "node missing from: {msg}"
        );
    }
    assert!(
        msg.contains(problem),
        "problem '{problem}' missing from: {msg}"
    );
}

#[test]
fn a_valid_model_loads() {
    assert_eq!(load(&good()).unwrap(), vec!["Mini"]);
}

#[test]
fn shipped_models_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/models");
    assert_eq!(
        validate_dir(&dir).unwrap(),
        vec!["ParallelDocumentReview", "SerialDocumentReview"]
    );
    MemoryEngine::from_dir("local", &dir).unwrap();
}

#[test]
fn unknown_target_node_is_refused() {
    let e = broken(|m| m["nodes"][1]["transitions"][0]["target"] = json!("nowhere"));
    assert_names(&e, Some("review"), "targets unknown node 'nowhere'");
}

#[test]
fn transition_testing_a_missing_button_is_refused() {
    let e =
        broken(|m| m["nodes"][1]["transitions"][0]["condition"] = json!("button == 'approved'"));
    assert_names(
        &e,
        Some("review"),
        "tests button 'approved', which the node does not have",
    );
}

#[test]
fn task_node_without_buttons_is_refused() {
    let e = broken(|m| m["nodes"][1]["task"]["buttons"] = json!([]));
    assert_names(&e, Some("review"), "task node has no buttons");
}

#[test]
fn bad_expression_is_refused() {
    let e = broken(|m| m["nodes"][1]["transitions"][0]["condition"] = json!("button == "));
    assert_names(&e, Some("review"), "invalid expression");
}

#[test]
fn undeclared_variable_in_expression_is_refused() {
    let e = broken(|m| m["nodes"][1]["output"][0]["value"] = json!("WorkflowVariables.cnt + 1"));
    assert_names(&e, Some("review"), "undeclared workflow variable 'cnt'");
}

#[test]
fn unknown_name_in_expression_is_refused() {
    let e = broken(|m| m["nodes"][1]["task"]["assignees"] = json!("owner"));
    assert_names(&e, Some("review"), "unknown name 'owner'");
}

#[test]
fn duplicate_node_ids_are_refused() {
    let e = broken(|m| m["nodes"][2]["id"] = json!("review"));
    assert_names(&e, Some("review"), "duplicate node id");
}

#[test]
fn unreachable_end_is_refused() {
    let e = broken(|m| {
        m["nodes"][1]["transitions"] =
            json!([{"name": "again", "condition": "button == 'reject'", "target": "review"}])
    });
    // The stop node can no longer be reached from the start.
    assert_names(&e, Some("end"), "cannot be reached from the start node");
}

#[test]
fn node_that_cannot_end_is_refused() {
    let e = broken(|m| {
        let nodes = m["nodes"].as_array_mut().unwrap();
        nodes.push(
            json!({"id": "limbo", "title": "L", "task": {"assignees": "initiator",
            "buttons": [{"name": "wait", "label": "w"}]},
            "transitions": [{"name": "stay", "target": "limbo"}]}),
        );
        nodes[1]["transitions"][1]["target"] = json!("limbo");
    });
    assert_names(&e, Some("limbo"), "no stop node can be reached");
}

#[test]
fn wrong_default_type_is_refused() {
    let e = broken(|m| m["variables"][0]["default"] = json!("zero"));
    assert_names(&e, None, "variable 'count'");
}

#[test]
fn set_of_undeclared_variable_is_refused() {
    let e = broken(|m| m["nodes"][1]["output"][0]["set"] = json!("WorkflowVariables.total"));
    assert_names(
        &e,
        Some("review"),
        "undeclared variable 'WorkflowVariables.total'",
    );
}

#[test]
fn invalid_json_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Mini.json"), "{ not json").unwrap();
    let e = validate_dir(dir.path()).unwrap_err();
    assert_names(&e, None, "invalid model JSON");
}

#[test]
fn unknown_field_is_refused() {
    let e = broken(|m| m["nodes"][1]["task"]["assigness"] = json!("initiator"));
    assert_names(&e, Some("review"), "unknown field `assigness`");
}

#[test]
fn duplicate_model_names_across_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), good().to_string()).unwrap();
    std::fs::write(dir.path().join("b.json"), good().to_string()).unwrap();
    let e = validate_dir(dir.path()).unwrap_err();
    assert!(e.to_string().contains("b.json"), "{e}");
    assert!(e.to_string().contains("already used"), "{e}");
}

#[test]
fn from_dir_refuses_a_broken_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = good();
    m["nodes"][1]["task"]["buttons"] = json!([]);
    std::fs::write(dir.path().join("Mini.json"), m.to_string()).unwrap();
    assert!(MemoryEngine::from_dir("local", dir.path()).is_err());
}
