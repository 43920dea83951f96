//! The gateway over simulators served with https on loopback: an upstream certificate
//! from an unknown CA answers 502 at once (one handshake, no retries), `ca_file` makes
//! it work, a CQ server wanting a client certificate answers 502 naming it until
//! `client_cert_file`/`client_key_file` are set, and a configured forward proxy carries
//! the calls.

mod common;
mod routing_sims;

use std::time::{Duration, Instant};

use flowgate_alfresco::sim::{Sim, SimHandle, SimOptions};
use flowgate_cq::sim::SimOptions as CqOptions;
use flowgate_cq::Profile;
use flowgate_testkit::peers;
use flowgate_testkit::tls::{pem_file, Ca};
use serde_json::Value;

use common::TestGateway;
use routing_sims::{alf_toml, bounded, cq_toml, gateway_toml, Tuning, CQ_DOC_PATH};

/// A path answered by the Alfresco engine alone (a task id of its prefix).
const ALF_TASK: &str = "/api/v1/task/alf~1001";

fn alf_sim(ca: &Ca) -> SimHandle {
    Sim::spawn(SimOptions {
        tls: Some(ca.server_tls(None).expect("server certificate")),
        ..SimOptions::default()
    })
    .expect("alfresco simulator")
}

/// A gateway over the Alfresco simulator only, with extra `[engines.alf.http]` lines.
async fn alf_gateway(sim: &SimHandle, http_extra: &str) -> TestGateway {
    let t = Tuning::default();
    let alf = alf_toml(&sim.base_url, &t).replace(
        "[engines.alf.auth]",
        &format!("{http_extra}[engines.alf.auth]"),
    );
    TestGateway::with(&format!("{}{alf}", gateway_toml(&t))).await
}

/// A gateway over the CQ simulator only, with extra `[engines.aem.http]` lines.
async fn cq_gateway(base_url: &str, http_extra: &str) -> TestGateway {
    let t = Tuning::default();
    let cq = format!("{}{http_extra}", cq_toml(base_url, &t));
    TestGateway::with(&format!("{}{cq}", gateway_toml(&t))).await
}

/// The workflows of a CQ page: answered by the CQ engine alone.
fn cq_workflows() -> String {
    format!("{CQ_DOC_PATH}/@workflow")
}

fn message(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_owned()
}

fn toml_path(p: &std::path::Path) -> String {
    p.display().to_string().replace('\\', "/")
}

#[actix_web::test]
async fn an_unknown_upstream_ca_answers_502_at_once_and_ca_file_makes_it_work() {
    bounded(60, async {
        let ca = Ca::new("flowgate gateway test CA").expect("CA");
        let sim = alf_sim(&ca);

        let gw = alf_gateway(&sim, "").await;
        assert_eq!(
            sim.tls_counters().connections(),
            0,
            "no call before the request"
        );
        let started = Instant::now();
        let r = gw.get(ALF_TASK, "jdoe").await.expect_exception(502);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered quickly"
        );
        let v = r.json();
        assert!(
            message(&v).contains("upstream certificate was not trusted"),
            "{v}"
        );
        let tls = sim.tls_counters();
        // The 502 may be written while the other call's handshake is still being
        // refused, and a dropped concurrent call may reach the listener a moment later:
        // wait (bounded) until the counts agree and stay still.
        let settle = Instant::now();
        let mut last = (0, 0);
        let mut still_since = Instant::now();
        while settle.elapsed() < Duration::from_secs(5) {
            let now = (tls.connections(), tls.failed_handshakes());
            if now != last {
                last = now;
                still_since = Instant::now();
            } else if now.0 == now.1 && still_since.elapsed() > Duration::from_millis(300) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The task and its items are read concurrently: one handshake for each call,
        // none retried (the engine allows 2 attempts, so retries would make 4).
        assert!(
            (1..=2).contains(&tls.connections()),
            "one handshake per call, no retries: {}",
            tls.connections()
        );
        let failed = tls.failed_handshakes();
        assert_eq!(failed, tls.connections());
        assert!(sim.requests().is_empty(), "nothing reached the simulator");

        let ca_file = pem_file(&ca.pem()).expect("CA file");
        let gw = alf_gateway(
            &sim,
            &format!("ca_file = \"{}\"\n", toml_path(ca_file.path())),
        )
        .await;
        // An unknown task: the simulator answers, the gateway maps it to 404.
        gw.get(ALF_TASK, "jdoe").await.expect_exception(404);
        assert_eq!(
            tls.failed_handshakes(),
            failed,
            "the trusted handshakes passed"
        );
        assert!(
            !sim.requests().is_empty(),
            "the request reached the simulator"
        );
        let v = gw
            .get("/api/v1/task?userId=jdoe", "jdoe")
            .await
            .expect(200)
            .json();
        assert!(v.get("engineFailures").is_none(), "{v}");
    })
    .await;
}

#[actix_web::test]
async fn a_cq_server_wanting_a_client_certificate_answers_502_until_one_is_configured() {
    bounded(60, async {
        let ca = Ca::new("flowgate cq server CA").expect("CA");
        let clients = Ca::new("flowgate cq client CA").expect("client CA");
        let tls = ca.server_tls(Some(&clients)).expect("server certificate");
        let sim = flowgate_cq::sim::spawn_tls(CqOptions::new(Profile::Aem64To65), 0, &tls)
            .await
            .expect("cq simulator");
        let ca_file = pem_file(&ca.pem()).expect("CA file");
        let trust = format!("ca_file = \"{}\"\n", toml_path(ca_file.path()));

        let gw = cq_gateway(&sim.base_url(), &trust).await;
        let started = Instant::now();
        let r = gw.get(&cq_workflows(), "jdoe").await.expect_exception(502);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered quickly"
        );
        let v = r.json();
        assert!(message(&v).contains("client certificate"), "{v}");
        assert!(sim.requests().is_empty(), "nothing reached the simulator");

        let (cert, key) = clients.client_leaf().expect("client certificate");
        let (cert_file, key_file) = (
            pem_file(&cert).expect("cert file"),
            pem_file(&key).expect("key file"),
        );
        let with_cert = format!(
            "{trust}client_cert_file = \"{}\"\nclient_key_file = \"{}\"\n",
            toml_path(cert_file.path()),
            toml_path(key_file.path())
        );
        let gw = cq_gateway(&sim.base_url(), &with_cert).await;
        let v = gw.get(&cq_workflows(), "jdoe").await.expect(200).json();
        assert!(v["entries"].is_array(), "{v}");
        assert!(
            !sim.requests().is_empty(),
            "the request reached the simulator"
        );
        sim.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn a_configured_proxy_carries_the_https_calls() {
    bounded(60, async {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(proxy) = peers::forward_proxy(dir.path(), None) else {
            return;
        };
        let ca = Ca::new("flowgate proxy test CA").expect("CA");
        let sim = alf_sim(&ca);
        let ca_file = pem_file(&ca.pem()).expect("CA file");
        let gw = alf_gateway(
            &sim,
            &format!(
                "ca_file = \"{}\"\nproxy = \"{}\"\n",
                toml_path(ca_file.path()),
                proxy.url()
            ),
        )
        .await;
        gw.get(ALF_TASK, "jdoe").await.expect_exception(404);
        let tunnels = peers::connects(&proxy);
        assert!(tunnels >= 1, "went through the proxy: {}", proxy.log_text());
        assert_eq!(
            tunnels,
            sim.tls_counters().connections(),
            "every connection to the simulator was a tunnel"
        );
    })
    .await;
}
