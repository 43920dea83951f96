//! The adapter's readers against the JSON examples of Adobe's AEM 6.5 documentation
//! (kept in `tests/fixtures/`, whose README names the source).

use crate::convert::ModelInfo;
use crate::profile::model_name_of;
use crate::wire::{InboxRow, ModelDoc, Routes, UriRow};
use crate::{dates, ids};

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_json::from_str(text).expect("a documented example parses")
}

#[test]
fn model_lists_name_runtime_models() {
    let rows: Vec<UriRow> = parse(include_str!("../tests/fixtures/models_list.json"));
    let names: Vec<String> = rows.iter().filter_map(|r| model_name_of(&r.uri)).collect();
    assert_eq!(names.len(), rows.len());
    assert!(names.iter().any(|n| n == "publish_example"));
    assert!(names.iter().any(|n| n == "dam/update_asset"));
}

#[test]
fn the_documented_model_reads_with_its_participant() {
    let doc: ModelDoc = parse(include_str!("../tests/fixtures/model_publish_example.json"));
    let m = ModelInfo::from_doc("publish_example", doc).expect("model");
    assert_eq!(m.title, "Publish Example");
    assert_eq!(m.nodes.len(), 4);
    assert_eq!(m.edges.len(), 3);
    let validate = m.node("node1").expect("node1");
    assert_eq!(validate.title, "Validate Content");
    assert_eq!(validate.participant.as_deref(), Some("admin"));
}

#[test]
fn instance_lists_name_checkable_instance_paths() {
    for text in [
        include_str!("../tests/fixtures/instances_running.json"),
        include_str!("../tests/fixtures/instances_list.json"),
    ] {
        let rows: Vec<UriRow> = parse(text);
        assert!(!rows.is_empty());
        for r in rows {
            ids::check_path(&r.uri).expect("a valid instance path");
            assert!(dates::day_of_instance_path(&r.uri).is_some(), "{}", r.uri);
        }
    }
}

#[test]
fn inbox_rows_carry_the_assignee_and_an_epoch_start() {
    let rows: Vec<InboxRow> = parse(include_str!("../tests/fixtures/inbox.json"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].ty.as_deref(), Some("WorkItem"));
    assert_eq!(
        rows[0].current_assignee.as_deref(),
        Some("workflow-administrators")
    );
    assert!(rows[0].uri.contains("/workItems/"));
    assert_eq!(rows[1].ty.as_deref(), Some("Task"), "not a work item");
    let raw: Vec<serde_json::Value> = parse(include_str!("../tests/fixtures/inbox.json"));
    let start = dates::parse_value(&raw[0]["startTime"]).expect("epoch milliseconds");
    assert_eq!(start.to_rfc3339(), "2018-02-26T14:44:49.274+00:00");
}

#[test]
fn documented_routes_keep_their_string_ids() {
    let r: Routes = parse(include_str!("../tests/fixtures/routes.json"));
    assert_eq!(r.routes.len(), 1);
    assert_eq!(r.routes[0].rid, "233123169");
    assert_eq!(r.routes[0].label.as_deref(), Some("End"));
}
