//! Signed webhooks over https to a receiver whose certificate comes from a private CA:
//! with the CA given as the endpoint's `ca_file`, a Serial review run through the API
//! reaches the receiver (TLS terminated on loopback by the test kit's front, relaying
//! to a small HTTP/1.1 server on its own threads) once per event, in order, each signed
//! as Standard Webhooks says; without it (system roots only) every handshake is refused,
//! nothing is delivered and the admin API shows the failure naming the certificate.
//! Through a forward proxy asking for credentials (Debian's tinyproxy), every delivery
//! goes through its tunnels.

mod common;
mod webhook_support;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgate_testkit::peers;
use flowgate_testkit::tls::{pem_file, serve_front, Ca, TlsCounters};
use serde_json::{json, Value};

use webhook_support::{
    assert_once_in_order_signed, distinct_events, start, Api, Hit, Mode, LIMIT, SECRET, SERIAL,
};

/// An https webhook receiver on loopback: the test kit's TLS front on a port of its
/// own, relaying to the shared plain receiver (which answers 200 and keeps every
/// request).
struct Receiver {
    /// The https address (the TLS front).
    addr: SocketAddr,
    plain: webhook_support::Receiver,
    tls: Arc<TlsCounters>,
    front: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts the receiver presenting a fresh server leaf of `ca` (127.0.0.1 and
    /// localhost). Must run inside a tokio runtime.
    fn start(ca: &Ca) -> Receiver {
        let plain = webhook_support::Receiver::start(Mode::Ok);
        let backend = plain.addr;
        let config = ca
            .server_tls(None)
            .expect("server certificate")
            .config()
            .expect("rustls server configuration");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the TLS front");
        let addr = listener.local_addr().expect("front addr");
        let tls = Arc::new(TlsCounters::default());
        let counters = tls.clone();
        let front = tokio::spawn(async move {
            let _ = serve_front(config, listener, backend, counters).await;
        });
        Receiver {
            addr,
            plain,
            tls,
            front,
        }
    }

    fn url(&self) -> String {
        format!("https://{}/hook", self.addr)
    }

    fn hits(&self) -> Vec<Hit> {
        self.plain.hits()
    }

    /// Waits (bounded) until `n` distinct events arrived; returns every request.
    async fn wait_events(&self, n: usize) -> Vec<Hit> {
        let end = Instant::now() + LIMIT;
        loop {
            let hits = self.hits();
            if distinct_events(hits.iter()) >= n {
                return hits;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {n} events; got {:#?} (TLS connections {}, failed handshakes {})",
                hits.iter()
                    .map(|h| h.json()["type"].clone())
                    .collect::<Vec<_>>(),
                self.tls.connections(),
                self.tls.failed_handshakes()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.front.abort();
    }
}

/// A path as a TOML basic string's content.
fn toml_path(p: &std::path::Path) -> String {
    p.display().to_string().replace('\\', "/")
}

/// A `[[webhooks]]` table (https: no `allow_plain_http`) with fast retries.
fn hook(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[[webhooks]]\nname = \"{name}\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n\
         backoff_base = \"50ms\"\nbackoff_cap = \"200ms\"\n{extra}\n"
    )
}

/// Runs `f`, failing the test if it takes longer than `secs`.
async fn bounded<F: std::future::Future<Output = ()>>(secs: u64, f: F) {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("the test finished in time");
}

#[tokio::test]
async fn webhooks_reach_an_https_receiver_trusted_through_ca_file() {
    bounded(90, async {
        let ca = Ca::new("flowgate webhook receiver CA").expect("CA");
        let receiver = Receiver::start(&ca);
        let ca_file = pem_file(&ca.pem()).expect("CA file");
        let hooks = hook(
            "private-ca",
            &receiver.url(),
            &format!("ca_file = \"{}\"", toml_path(ca_file.path())),
        );
        let r = start(&hooks).await;
        let addr = r.addr.to_string();
        let jdoe = Api::new(&addr, "jdoe", "jdoe");
        let asmith = Api::new(&addr, "asmith", "asmith");
        let wf = jdoe.serial_review(&asmith, "doc-hooks-tls").await;

        let hits = receiver.wait_events(6).await;
        assert_once_in_order_signed(&hits, &SERIAL);
        for h in &hits {
            let v = h.json();
            assert_eq!(v["data"]["workflowId"], wf.as_str());
            assert_eq!(v["data"]["documents"], json!(["doc-hooks-tls"]));
        }
        assert!(receiver.tls.connections() >= 1);
        assert_eq!(
            receiver.tls.failed_handshakes(),
            0,
            "every handshake passed"
        );

        // The admin view agrees: delivered, no failure.
        let admin = Api::new(&addr, "Administrator", "Administrator");
        let end = Instant::now() + LIMIT;
        loop {
            let (status, v) = admin.get("/admin/webhooks").await;
            assert_eq!(status, 200, "{v}");
            let e = &v["entries"][0];
            assert_eq!(e["name"], "private-ca");
            assert_eq!(e["lastFailure"], Value::Null, "{e}");
            if e["lastSuccess"]["outcome"] == "delivered" && e["lag"] == 0 {
                break;
            }
            assert!(Instant::now() < end, "{v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        r.stop().await;
    })
    .await;
}

#[tokio::test]
async fn webhooks_go_through_a_forward_proxy_that_asks_for_credentials() {
    bounded(90, async {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(proxy) = peers::forward_proxy(dir.path(), Some(("corp", "proxy-pass-53"))) else {
            return;
        };
        let ca = Ca::new("flowgate webhook receiver CA").expect("CA");
        let receiver = Receiver::start(&ca);
        let ca_file = pem_file(&ca.pem()).expect("CA file");
        let hooks = hook(
            "behind-proxy",
            &receiver.url(),
            &format!(
                "ca_file = \"{}\"\nproxy = \"http://corp:proxy-pass-53@127.0.0.1:{}/\"",
                toml_path(ca_file.path()),
                proxy.port
            ),
        );
        let r = start(&hooks).await;
        let addr = r.addr.to_string();
        let jdoe = Api::new(&addr, "jdoe", "jdoe");
        let asmith = Api::new(&addr, "asmith", "asmith");
        jdoe.serial_review(&asmith, "doc-hooks-proxy").await;

        let hits = receiver.wait_events(6).await;
        assert_once_in_order_signed(&hits, &SERIAL);
        let tunnels = peers::connects(&proxy);
        assert!(tunnels >= 1, "went through the proxy: {}", proxy.log_text());
        assert_eq!(
            tunnels,
            receiver.tls.connections(),
            "every connection to the receiver was a tunnel"
        );
        // The admin view shows the endpoint without the proxy's credentials.
        let admin = Api::new(&addr, "Administrator", "Administrator");
        let (status, v) = admin.get("/admin/webhooks").await;
        assert_eq!(status, 200, "{v}");
        assert!(!v.to_string().contains("proxy-pass-53"), "{v}");
        r.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_untrusted_receiver_certificate_is_a_recorded_failure_not_a_delivery() {
    bounded(90, async {
        let ca = Ca::new("flowgate unknown webhook CA").expect("CA");
        let receiver = Receiver::start(&ca);
        // No ca_file: the system roots only. max_age stays long (1h) so the event keeps
        // being retried, not dead-lettered, during the test.
        let hooks = hook("untrusted", &receiver.url(), "max_age = \"1h\"");
        let r = start(&hooks).await;
        let addr = r.addr.to_string();
        let jdoe = Api::new(&addr, "jdoe", "jdoe");
        jdoe.start("doc-hooks-untrusted").await;

        let admin = Api::new(&addr, "Administrator", "Administrator");
        let end = Instant::now() + LIMIT;
        let e = loop {
            let (status, v) = admin.get("/admin/webhooks").await;
            assert_eq!(status, 200, "{v}");
            let e = &v["entries"][0];
            // Two failed attempts at least: the first one was retried.
            if e["lastFailure"].is_object() && e["inFlight"]["attempts"].as_u64() >= Some(2) {
                break e.clone();
            }
            assert!(Instant::now() < end, "{v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(e["name"], "untrusted");
        assert_eq!(e["lastSuccess"], Value::Null, "nothing delivered: {e}");
        assert_eq!(e["deadLetters"], 0, "{e}");
        let failure = &e["lastFailure"];
        assert_eq!(failure["outcome"], "failed", "{e}");
        assert_eq!(failure["status"], Value::Null, "no answer: {e}");
        // rustls says "invalid peer certificate: UnknownIssuer".
        let error = failure["error"].as_str().expect("an error message");
        assert!(
            error.starts_with("cannot connect: ") && error.contains("certificate"),
            "{error}"
        );
        assert!(
            e["inFlight"]["lastError"]
                .as_str()
                .is_some_and(|m| m.contains("certificate")),
            "{e}"
        );
        assert!(e["lag"].as_u64() >= Some(1), "{e}");

        // The handshakes reached the receiver and were all refused; no request got
        // through.
        assert!(receiver.tls.connections() >= 2);
        assert!(receiver.tls.failed_handshakes() >= 2);
        assert!(receiver.hits().is_empty(), "{:#?}", receiver.hits());

        let (status, d) = admin.get("/admin/webhooks/untrusted/deliveries").await;
        assert_eq!(status, 200, "{d}");
        let entries = d["entries"].as_array().expect("entries");
        assert!(!entries.is_empty(), "{d}");
        assert!(
            entries.iter().all(|a| a["outcome"] == "failed"),
            "no delivery: {d}"
        );
        assert_eq!(d["deadLetters"], json!([]), "{d}");

        // The failures are counted as TLS failures.
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        assert!(
            text.contains("flowgate_webhook_failures_total{endpoint=\"untrusted\",reason=\"tls\"}"),
            "{text}"
        );
        assert!(
            !text.contains(
                "flowgate_webhook_deliveries_total{endpoint=\"untrusted\",outcome=\"delivered\"}"
            ),
            "{text}"
        );
        r.stop().await;
    })
    .await;
}
