//! Real `flowgate` replicas on a PostgreSQL schema, and the HTTP calls the replica
//! tests make (shared by `replicas.rs` and `db_faults.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::process::{Server, ADMIN_HASH};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A replica that is killed when the test ends, however it ends.
pub struct Replica(Option<Server>);

impl Replica {
    pub fn start(cfg: &Path, log: &Path, url: &str) -> Replica {
        // No URL: a replica of another storage (the variable would be refused).
        let env: &[(&str, &str)] = if url.is_empty() {
            &[]
        } else {
            &[("FLOWGATE__ENGINES__LOCAL__DATABASE_URL", url)]
        };
        Replica(Some(Server::start_with_env(cfg, log, env)))
    }

    pub fn base(&self) -> String {
        let addr = self.0.as_ref().map(|s| s.addr.clone()).unwrap_or_default();
        format!("http://{addr}/nuxeo/api/v1")
    }

    pub fn kill(&mut self) {
        if let Some(s) = self.0.take() {
            s.kill();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Settings of a replica on `schema`.
pub fn write_config(dir: &Path, schema: &str, extra: &str) -> PathBuf {
    let cfg = dir.join("flowgate.toml");
    let text = format!(
        "[log]\nlevel = \"info\"\n\
         [server]\nrequest_timeout_ms = 15000\n\
         [engines.local]\nkind = \"embedded\"\nmodels_dir = \"{ROOT}/config/models\"\ndefault = true\n\
         storage = \"postgres\"\ndatabase_schema = \"{schema}\"\npool_size = 8\n\
         acquire_timeout_ms = 10000\nstatement_timeout_ms = 10000\n{extra}\n\
         [[auth.users]]\nname = \"Administrator\"\npassword_hash = \"{ADMIN_HASH}\"\ngroups = [\"administrators\"]\n",
    );
    std::fs::write(&cfg, text).expect("write config");
    cfg
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

pub async fn send(rb: reqwest::RequestBuilder) -> (u16, Value) {
    let r = rb
        .basic_auth("Administrator", Some("Administrator"))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Starts a serial review on `doc` through `base`; its id.
pub async fn start_review(c: &reqwest::Client, base: &str, doc: &str) -> String {
    let (status, wf) = send(c.post(format!("{base}/id/{doc}/@workflow")).json(&json!({
        "entity-type": "workflow",
        "workflowModelName": "SerialDocumentReview"
    })))
    .await;
    assert_eq!(status, 201, "{wf}");
    wf["id"].as_str().expect("workflow id").to_owned()
}

/// The open tasks of a workflow as `base` lists them.
pub async fn open_tasks(c: &reqwest::Client, base: &str, wf: &str) -> Vec<Value> {
    let (status, list) = send(c.get(format!("{base}/task?workflowInstanceId={wf}"))).await;
    assert_eq!(status, 200, "{list}");
    list["entries"].as_array().cloned().unwrap_or_default()
}

pub fn start_review_body(task: &str) -> Value {
    json!({"entity-type": "task", "id": task, "comment": "go",
           "variables": {"participants": ["user:jdoe", "user:asmith"]}})
}
