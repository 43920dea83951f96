//! Events of a remote engine derived by polling, read through the real gateway over
//! HTTP: a review started and completed directly in the Alfresco simulator (not through
//! flowgate) shows in the document's `@audit`, and `/metrics` reports the polls.

#[path = "common/mod.rs"]
mod common;
mod routing_sims;

use std::time::{Duration, Instant};

use flowgate::settings::{Settings, Sources};
use flowgate::AppState;
use flowgate_alfresco::sim::{nodes, Sim, SimHandle};
use serde_json::{json, Value};

use routing_sims::{bounded, Tuning};

const WF: &str = "api/-default-/public/workflow/versions/1";

/// A request to the simulator's own API, as `user`.
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

/// The audit entries of the contract, as jdoe.
async fn audit(base: &str) -> Vec<Value> {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/id/alf~{}/@audit", nodes::CONTRACT))
        .basic_auth("jdoe", Some("jdoe"))
        .send()
        .await
        .expect("answer");
    if !r.status().is_success() {
        eprintln!(
            "audit: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
        return Vec::new();
    }
    let v: Value = r.json().await.expect("json");
    v["entries"].as_array().cloned().unwrap_or_default()
}

fn event_ids(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["eventId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn metrics(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

#[actix_web::test]
async fn a_review_done_directly_in_alfresco_shows_in_the_documents_audit() {
    bounded(60, async {
        let alf = Sim::spawn(Default::default()).expect("simulator");
        let state_dir = tempfile::tempdir().expect("tempdir");
        let alf_table = routing_sims::alf_toml(&alf.base_url, &Tuning::default()).replacen(
            "mounts = [\"/alfresco\"]\n",
            &format!(
                "mounts = [\"/alfresco\"]\nevents_poll_secs = 1\nevents_state_dir = \"{}\"\n",
                state_dir.path().display()
            ),
            1,
        );
        let toml = format!("{}\n{alf_table}", common::fixture_toml());
        let mut settings = Settings::load(&Sources::from_toml(toml)).expect("settings");
        settings.server.bind = "127.0.0.1:0".into();
        let running = flowgate::spawn(AppState::new(settings).expect("state"))
            .await
            .expect("gateway");
        let base = format!("http://{}", running.addr);

        // The first poll records the baseline.
        let until = Instant::now() + Duration::from_secs(15);
        while !metrics(&base)
            .await
            .contains("flowgate_events_polls_total{engine=\"alf\",outcome=\"ok\"}")
        {
            assert!(Instant::now() < until, "no successful poll");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let p = direct(
            &alf,
            "dave",
            reqwest::Method::POST,
            "/processes",
            json!({"processDefinitionKey": "activitiReview", "variables": {"bpm_assignee": "jdoe"}, "items": [nodes::CONTRACT]}),
        )
        .await;
        let pid = p["entry"]["id"].as_str().expect("process id").to_owned();
        let tasks = direct(&alf, "admin", reqwest::Method::GET, &format!("/processes/{pid}/tasks"), Value::Null).await;
        let tid = tasks["list"]["entries"][0]["entry"]["id"].as_str().expect("task").to_owned();
        // A task opened and ended between two polls is not seen: let a poll see it.
        let until = Instant::now() + Duration::from_secs(15);
        while !event_ids(&audit(&base).await).contains(&"afterWorkflowTaskCreated".to_owned()) {
            assert!(Instant::now() < until, "the review task was not reported");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        direct(
            &alf,
            "jdoe",
            reqwest::Method::PUT,
            &format!("/tasks/{tid}?select=state,variables"),
            json!({"state": "completed", "variables": [{"name": "wf_reviewOutcome", "value": "Approve", "scope": "local"}]}),
        )
        .await;

        let until = Instant::now() + Duration::from_secs(15);
        let entries = loop {
            let entries = audit(&base).await;
            if event_ids(&entries).iter().any(|e| e == "afterWorkflowTaskEnded")
                || Instant::now() > until
            {
                break entries;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let ids = event_ids(&entries);
        assert!(ids.contains(&"afterWorkflowStarted".to_owned()), "{entries:?}");
        let ended = entries
            .iter()
            .find(|e| e["eventId"] == "afterWorkflowTaskEnded")
            .unwrap_or_else(|| panic!("no ended task in {entries:?}"));
        assert_eq!(ended["category"], "Routing");
        assert_eq!(ended["principalName"], "jdoe");
        assert_eq!(ended["extended"]["action"], "approve", "{ended}");
        assert_eq!(ended["extended"]["taskId"], format!("alf~{tid}"), "{ended}");
        assert_eq!(ended["docUUID"], format!("alf~{}", nodes::CONTRACT));
        assert_eq!(
            ended["extended"]["workflowInstanceId"],
            format!("alf~{pid}"),
            "the extended info repeats the gateway's id"
        );
        let m = metrics(&base).await;
        assert!(m.contains("flowgate_events_poll_last_success_timestamp_seconds{engine=\"alf\"}"), "{m}");
        running.stop().await;
    })
    .await;
}
