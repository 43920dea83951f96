//! Shared set-up of the routing and fault tests: a gateway over the embedded engine plus
//! an Alfresco and a CQ simulator on loopback, and helpers to start one review for `jdoe`
//! on each engine through the Nuxeo API.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use flowgate_alfresco::sim::{Sim, SimHandle, SimOptions};
use flowgate_cq::sim::CqSim;
use flowgate_cq::Profile;
use serde_json::{json, Value};

use crate::common::{fixture_toml, Resp, TestGateway};

/// Alfresco document started on (`/Sites/finance/documentLibrary/contract.pdf`).
pub const ALF_DOC_PATH: &str = "/api/v1/path/alfresco/Sites/finance/documentLibrary/contract.pdf";
/// CQ page started on.
pub const CQ_DOC_PATH: &str = "/api/v1/path/content/flowgate/en/page-a";

/// Resilience knobs of the remote engines in a test gateway.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// `http.request_timeout_ms` of both remote engines.
    pub request_timeout_ms: u64,
    /// `http.breaker_failures`.
    pub breaker_failures: u32,
    /// `http.breaker_cooldown_ms`.
    pub breaker_cooldown_ms: u64,
    /// `http.max_attempts`.
    pub max_attempts: u32,
    /// `http.max_concurrency` of the CQ engine.
    pub cq_concurrency: usize,
    /// `[routing] fanout_timeout_ms`.
    pub fanout_timeout_ms: u64,
    /// `[server] request_timeout_ms`.
    pub gateway_timeout_ms: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            request_timeout_ms: 3_000,
            breaker_failures: 3,
            breaker_cooldown_ms: 600,
            max_attempts: 2,
            cq_concurrency: 16,
            fanout_timeout_ms: 4_000,
            gateway_timeout_ms: 8_000,
        }
    }
}

fn http_table(t: &Tuning, concurrency: usize) -> String {
    format!(
        "request_timeout_ms = {}\nconnect_timeout_ms = 500\nmax_attempts = {}\nretry_min_delay_ms = 10\nretry_max_delay_ms = 50\nbreaker_failures = {}\nbreaker_cooldown_ms = {}\nmax_concurrency = {concurrency}\n",
        t.request_timeout_ms, t.max_attempts, t.breaker_failures, t.breaker_cooldown_ms
    )
}

/// The `[engines.alf]` table for an Alfresco simulator.
pub fn alf_toml(base_url: &str, t: &Tuning) -> String {
    format!(
        "[engines.alf]\nkind = \"alfresco\"\nid_prefix = \"alf\"\nmounts = [\"/alfresco\"]\n[engines.alf.http]\nbase_url = \"{base_url}\"\n{}[engines.alf.auth]\nmode = \"basic\"\nuser = \"admin\"\npassword = \"admin\"\n",
        http_table(t, 16)
    )
}

/// The `[engines.aem]` table for a CQ simulator (ids `cq~...`).
pub fn cq_toml(base_url: &str, t: &Tuning) -> String {
    format!(
        "[engines.aem]\nkind = \"cq\"\nbase_url = \"{base_url}\"\nprofile = \"aem64-65\"\nid_prefix = \"cq\"\nmounts = [\"/content\"]\n[engines.aem.auth]\nmode = \"basic\"\nuser = \"admin\"\npassword = \"admin\"\n[engines.aem.http]\n{}",
        http_table(t, t.cq_concurrency)
    )
}

/// `[server]` and `[routing]` tables for a tuning.
pub fn gateway_toml(t: &Tuning) -> String {
    format!(
        "[server]\nrequest_timeout_ms = {}\n[routing]\nfanout_timeout_ms = {}\n",
        t.gateway_timeout_ms, t.fanout_timeout_ms
    )
}

/// The embedded engine (default) plus both simulators.
pub struct ThreeEngines {
    /// The gateway in process.
    pub gw: TestGateway,
    /// Alfresco simulator.
    pub alf: SimHandle,
    /// CQ simulator (`None` once stopped).
    pub cq: Option<CqSim>,
    /// CQ simulator address, to start a new one on the same port.
    pub cq_port: u16,
}

impl ThreeEngines {
    /// Starts both simulators and a gateway over them.
    pub async fn start(t: &Tuning) -> Self {
        let alf = Sim::spawn(SimOptions::default()).expect("alfresco simulator");
        let cq = flowgate_cq::sim::spawn(Profile::Aem64To65)
            .await
            .expect("cq simulator");
        let extra = format!(
            "{}{}{}",
            gateway_toml(t),
            alf_toml(&alf.base_url, t),
            cq_toml(&cq.base_url(), t)
        );
        let cq_port = cq.addr().port();
        Self {
            gw: TestGateway::with(&extra).await,
            alf,
            cq: Some(cq),
            cq_port,
        }
    }

    /// The CQ simulator.
    pub fn cq(&self) -> &CqSim {
        self.cq.as_ref().expect("cq simulator running")
    }

    /// Stops the CQ simulator; its port then refuses connections.
    pub async fn kill_cq(&mut self) {
        if let Some(s) = self.cq.take() {
            s.stop().await;
        }
    }

    /// Starts a fresh CQ simulator on the old port.
    pub async fn revive_cq(&mut self) {
        let sim = flowgate_cq::sim::spawn_with(
            flowgate_cq::sim::SimOptions::new(Profile::Aem64To65),
            self.cq_port,
        )
        .await
        .expect("cq simulator on its old port");
        self.cq = Some(sim);
    }

    /// One review task for `jdoe` on each engine; returns the workflow ids
    /// (local, alfresco, cq).
    pub async fn one_review_each(&self) -> (String, String, String) {
        let local = self.gw.start("jdoe", "SerialDocumentReview", None).await;
        let alf = self
            .gw
            .post(
                &format!("{ALF_DOC_PATH}/@workflow"),
                "bob",
                &json!({"entity-type": "workflow", "workflowModelName": "activitiReview",
                        "variables": {"assignee": "jdoe"}}),
            )
            .await
            .expect(201)
            .json();
        let cq = self
            .gw
            .post(
                &format!("{CQ_DOC_PATH}/@workflow"),
                "Administrator",
                &json!({"entity-type": "workflow", "workflowModelName": "flowgate/review"}),
            )
            .await
            .expect(201)
            .json();
        (id(&local), id(&alf), id(&cq))
    }
}

/// The `id` of an entity.
pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("entity id").to_owned()
}

/// Ids of a list's entries.
pub fn entry_ids(v: &Value) -> Vec<String> {
    v["entries"]
        .as_array()
        .map(|a| a.iter().map(id).collect())
        .unwrap_or_default()
}

/// A GET timed.
pub async fn timed_get(gw: &TestGateway, path: &str, user: &str) -> (Resp, Duration) {
    let started = Instant::now();
    let r = gw.get(path, user).await;
    (r, started.elapsed())
}

/// The fixture's users and groups without its embedded engine, for gateways whose
/// engines are all remote.
pub fn users_only_toml() -> String {
    let full = fixture_toml();
    full.split_once("[[auth.users]]")
        .map(|(_, rest)| format!("[[auth.users]]{rest}"))
        .expect("fixture has users")
}

/// Runs a test body with an overall bound, so a hung upstream fails the test.
pub async fn bounded<F: std::future::Future<Output = ()>>(secs: u64, f: F) {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("test finished in time");
}
