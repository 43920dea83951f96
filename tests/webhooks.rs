//! Signed webhooks over real HTTP: a loopback receiver (a small HTTP/1.1 server on its
//! own threads) gets the events of Serial reviews run through the gateway's API, each
//! once, in order, signed as Standard Webhooks says; a receiver that refuses
//! connections or answers 500 gets every event once it is back; a permanent failure
//! ends dead-lettered, shows in the admin API, and an administrator's retry delivers
//! it; the real binary killed and restarted resumes from its stored cursor, and
//! stopped gracefully repeats nothing; a plain http URL stops start-up unless
//! `allow_plain_http` is set.

mod common;
mod process;
mod webhook_support;

use std::collections::HashMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use webhook_support::*;

#[tokio::test]
async fn a_serial_review_arrives_once_per_event_in_order_and_signed() {
    let all = Receiver::start(Mode::Ok);
    let created = Receiver::start(Mode::Ok);
    let hooks = format!(
        "{}{}",
        hook("every-event", &all.url(), ""),
        hook(
            "task-created",
            &created.url(),
            "events = [\"afterWorkflowTaskCreated\"]\nmodels = [\"SerialDocumentReview\"]"
        )
    );
    let r = start(&hooks).await;
    let addr = r.addr.to_string();
    let jdoe = Api::new(&addr, "jdoe", "jdoe");
    let asmith = Api::new(&addr, "asmith", "asmith");
    let wf = jdoe.serial_review(&asmith, "doc-hooks").await;

    let hits = all.wait_delivered(6).await;
    assert_once_in_order_signed(&hits, &SERIAL);
    for h in &hits {
        let v = h.json();
        let data = &v["data"];
        assert_eq!(data["eventId"], v["type"]);
        assert_eq!(data["workflowId"], wf.as_str());
        assert_eq!(data["engine"], "local");
        assert_eq!(
            data["id"],
            format!("local:{}", data["seq"].as_u64().unwrap_or_default()).as_str()
        );
        assert_eq!(data["documents"], json!(["doc-hooks"]));
        chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().expect("timestamp"))
            .expect("an RFC 3339 timestamp");
        assert_eq!(v["timestamp"], data["at"]);
    }
    assert_eq!(hits[2].json()["data"]["action"], "start_review");

    let only = created.wait_delivered(2).await;
    assert_eq!(only.len(), 2);
    assert_in_order(&only, &SERIAL[1..2].repeat(2));
    // The same event gets another id for another endpoint.
    assert_ne!(only[0].header("webhook-id"), hits[1].header("webhook-id"));

    // The admin view agrees (once the outcomes are written, at most a quarter of a
    // second later): cursors at the last event, nothing behind, no failure.
    let admin = Api::new(&addr, "Administrator", "Administrator");
    let last_seq = hits[5].json()["data"]["seq"].as_u64().expect("seq");
    let v = admin_view_when(&admin, |every| {
        every["cursors"][0]["cursor"] == last_seq && every["lag"] == 0
    })
    .await;
    assert_eq!(v["entity-type"], "webhooks");
    let every = &v["entries"][0];
    assert_eq!(every["name"], "every-event");
    assert_eq!(every["url"], all.url().as_str());
    assert_eq!(every["lastSuccess"]["outcome"], "delivered");
    assert_eq!(every["lastFailure"], Value::Null);
    assert_eq!(every["deadLetters"], 0);
    assert!(
        !v.to_string().contains("whsec"),
        "the secret is never shown"
    );

    // Metrics: events counted per type, deliveries and latency per endpoint.
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for needle in [
        "flowgate_events_total{engine=\"local\",type=\"afterWorkflowFinish\"}",
        "flowgate_webhook_deliveries_total{endpoint=\"every-event\",outcome=\"delivered\"} 6",
        "flowgate_webhook_deliveries_total{endpoint=\"task-created\",outcome=\"delivered\"} 2",
        "flowgate_webhook_delivery_latency_seconds_bucket{endpoint=\"every-event\"",
        "flowgate_event_streams_open 0",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    r.stop().await;
}

#[tokio::test]
async fn a_receiver_down_then_failing_then_up_gets_every_event() {
    // A port nobody listens on: connections are refused until the receiver starts.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let url = format!("http://{port}/hooks");
    let r = start(&hook("flaky", &url, "")).await;
    let addr = r.addr.to_string();
    let jdoe = Api::new(&addr, "jdoe", "jdoe");
    let asmith = Api::new(&addr, "asmith", "asmith");
    jdoe.serial_review(&asmith, "doc-flaky").await;

    let admin = Api::new(&addr, "Administrator", "Administrator");
    let end = Instant::now() + LIMIT;
    let failure = loop {
        let (_, v) = admin.get("/admin/webhooks").await;
        let e = &v["entries"][0];
        if e["lastFailure"].is_object() && e["inFlight"].is_object() {
            break e.clone();
        }
        assert!(Instant::now() < end, "{v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(failure["lastSuccess"], Value::Null);
    assert_eq!(failure["lag"], 6, "{failure}");
    assert!(
        failure["lastFailure"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot connect")),
        "{failure}"
    );

    // Up, but failing: the same first event is tried again and again.
    let receiver = Receiver::start_on(port, Mode::Status(500));
    let hits = receiver.wait("three 500 answers", |h| h.len() >= 3).await;
    let first = hits[0].json()["data"]["id"].clone();
    assert!(hits.iter().all(|h| h.json()["data"]["id"] == first));
    assert!(hits
        .windows(2)
        .all(|w| w[0].header("webhook-id") == w[1].header("webhook-id")));
    for h in &hits {
        assert_signed(h);
    }

    receiver.set(Mode::Ok);
    let delivered = receiver.wait_delivered(6).await;
    assert_eq!(delivered.len(), 6, "every event once 2xx: {delivered:#?}");
    assert_in_order(&delivered, &SERIAL);
    let (_, d) = admin.get("/admin/webhooks/flaky/deliveries").await;
    let outcomes: Vec<&str> = d["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert!(
        outcomes.contains(&"failed") && outcomes[0] == "delivered",
        "{d}"
    );
    r.stop().await;
}

#[tokio::test]
async fn a_hung_receiver_delays_neither_the_engine_nor_other_endpoints() {
    let hung = Receiver::start(Mode::Hang);
    let fine = Receiver::start(Mode::Ok);
    let hooks = format!(
        "{}{}",
        hook("hung", &hung.url(), "request_timeout_ms = 300"),
        hook("fine", &fine.url(), "")
    );
    let r = start(&hooks).await;
    let addr = r.addr.to_string();
    let jdoe = Api::new(&addr, "jdoe", "jdoe");
    let asmith = Api::new(&addr, "asmith", "asmith");
    let t0 = Instant::now();
    jdoe.serial_review(&asmith, "doc-hung").await;
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the review waited for a receiver"
    );
    let delivered = fine.wait_delivered(6).await;
    assert_in_order(&delivered, &SERIAL);
    // The hung endpoint is retried after each timeout, still at its first event.
    let hits = hung.wait("two attempts", |h| h.len() >= 2).await;
    assert!(hits
        .iter()
        .all(|h| h.header("webhook-id") == hits[0].header("webhook-id")));
    let admin = Api::new(&addr, "Administrator", "Administrator");
    let (_, v) = admin.get("/admin/webhooks").await;
    let e = &v["entries"][0];
    assert_eq!(e["name"], "hung");
    assert!(
        e["lastFailure"]["error"]
            .as_str()
            .is_some_and(|m| m.contains("no answer within 300 ms")),
        "{e}"
    );
    assert_eq!(e["lastSuccess"], Value::Null);
    r.stop().await;
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_and_an_administrator_retries_it() {
    let receiver = Receiver::start(Mode::Status(500));
    let hooks = hook(
        "broken",
        &receiver.url(),
        "events = [\"afterWorkflowStarted\"]\nmax_age = \"1s\"",
    );
    let r = start(&hooks).await;
    let addr = r.addr.to_string();
    let jdoe = Api::new(&addr, "jdoe", "jdoe");
    let admin = Api::new(&addr, "Administrator", "Administrator");
    jdoe.start("doc-dead").await;

    let end = Instant::now() + LIMIT;
    let listed = loop {
        let (status, v) = admin.get("/admin/webhooks").await;
        assert_eq!(status, 200);
        if v["entries"][0]["deadLetters"] == 1 {
            break v;
        }
        assert!(Instant::now() < end, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let e = &listed["entries"][0];
    assert_eq!(e["lastFailure"]["outcome"], "dead_lettered", "{e}");
    assert_eq!(e["lastFailure"]["status"], 500);
    assert_eq!(e["maxAgeSeconds"], 1);
    let tries = receiver.hits().len();
    assert!(tries >= 2, "retried before giving up: {tries}");

    // The dispatcher moved on: the next workflow's start is tried too.
    jdoe.start("doc-dead-2").await;
    receiver
        .wait("the second start tried", |h| distinct_events(h.iter()) == 2)
        .await;

    let (status, d) = admin.get("/admin/webhooks/broken/deliveries").await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["entity-type"], "webhookDeliveries");
    let letter = d["deadLetters"][0].clone();
    assert_eq!(letter["state"], "dead");
    assert_eq!(letter["type"], "afterWorkflowStarted");
    assert!(letter["lastError"]
        .as_str()
        .is_some_and(|m| m.contains("500")));
    let id = letter["id"].as_str().expect("id").to_owned();

    // Administrators only; unknown names and ids are 404, all in Nuxeo's format.
    let exception = |v: &Value, status: u16| {
        assert_eq!(v["entity-type"], "exception", "{v}");
        assert_eq!(v["status"], status);
    };
    let (status, v) = jdoe.get("/admin/webhooks").await;
    assert_eq!(status, 403);
    exception(&v, 403);
    let (status, v) = jdoe.get("/admin/webhooks/broken/deliveries").await;
    assert_eq!(status, 403);
    exception(&v, 403);
    let retry = |who: &Api, name: &str, id: &str| {
        who.http.post(format!(
            "{}/admin/webhooks/{name}/deliveries/{id}/retry",
            who.base
        ))
    };
    let (status, _) = jdoe.call(retry(&jdoe, "broken", &id)).await;
    assert_eq!(status, 403);
    let (status, v) = admin.get("/admin/webhooks/nope/deliveries").await;
    assert_eq!(status, 404);
    exception(&v, 404);
    let (status, v) = admin.call(retry(&admin, "nope", &id)).await;
    assert_eq!(status, 404);
    exception(&v, 404);
    let (status, v) = admin.call(retry(&admin, "broken", "msg_unknown")).await;
    assert_eq!(status, 404);
    exception(&v, 404);

    // Back up; the retry delivers the same message again and the letter goes away.
    receiver.set(Mode::Ok);
    let (status, v) = admin.call(retry(&admin, "broken", &id)).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["state"], "requeued");
    assert_eq!(v["id"], id.as_str());
    let hits = receiver
        .wait("the retried delivery", |h| {
            h.iter()
                .any(|h| h.answered == 200 && h.header("webhook-id") == id)
        })
        .await;
    let again = hits
        .iter()
        .find(|h| h.answered == 200 && h.header("webhook-id") == id)
        .expect("delivered");
    assert_signed(again);
    assert_eq!(again.body, letter_body(&hits, &id), "the same payload");
    let end = Instant::now() + LIMIT;
    loop {
        let (_, d) = admin.get("/admin/webhooks/broken/deliveries").await;
        let gone = d["deadLetters"]
            .as_array()
            .is_some_and(|l| l.iter().all(|x| x["id"] != id.as_str()));
        if gone {
            assert!(d["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .any(|e| e["id"] == id.as_str() && e["outcome"] == "delivered"));
            break;
        }
        assert!(Instant::now() < end, "{d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = admin.call(retry(&admin, "broken", &id)).await;
    assert_eq!(status, 404, "a delivered letter is no longer a dead letter");
    r.stop().await;
}

/// The body of the first attempt of message `id`.
fn letter_body(hits: &[Hit], id: &str) -> String {
    hits.iter()
        .find(|h| h.header("webhook-id") == id)
        .map(|h| h.body.clone())
        .expect("a first attempt")
}

/// The admin view of the webhooks once `f` holds for its first endpoint (bounded).
async fn admin_view_when(admin: &Api, f: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + LIMIT;
    loop {
        let (status, v) = admin.get("/admin/webhooks").await;
        assert_eq!(status, 200, "{v}");
        if f(&v["entries"][0]) {
            return v;
        }
        assert!(Instant::now() < end, "{v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `[[webhooks]]` table named `name` posting to `receiver`, plus `extra` lines; the
/// secret comes from the environment of the process (`FLOWGATE_TEST_HOOK_SECRET`), as
/// in production.
fn binary_hook(name: &str, receiver: &Receiver, extra: &str) -> String {
    format!(
        "[[webhooks]]\nname = \"{name}\"\nurl = \"{}\"\nsecret_env = \"FLOWGATE_TEST_HOOK_SECRET\"\n\
         allow_plain_http = true\n{extra}",
        receiver.url()
    )
}

#[tokio::test]
async fn the_binary_resumes_from_its_cursor_after_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start(Mode::Ok);
    let hooks = binary_hook(
        "resume",
        &receiver,
        "backoff_base = \"50ms\"\nbackoff_cap = \"200ms\"\n",
    );
    let cfg = process::redb_config(dir.path(), &hooks);
    let log = dir.path().join("flowgate.log");
    let env = [("FLOWGATE_TEST_HOOK_SECRET", SECRET)];

    let s = process::Server::start_with_env(&cfg, &log, &env);
    let admin = Api::new(&s.addr, "Administrator", "Administrator");
    let wf = admin.start("doc-restart").await;
    let before = receiver.wait_delivered(2).await;
    assert_in_order(&before, &SERIAL[..2]);
    // Their outcomes written (at most a quarter of a second later): from here on a
    // kill must not deliver them again.
    let second = before[1].json()["data"]["seq"].as_u64().expect("seq");
    admin_view_when(&admin, |hook| hook["cursors"][0]["cursor"] == second).await;
    #[cfg(target_os = "linux")]
    assert_eq!(
        thread_nice(s.pid(), "webhooks"),
        Some(19),
        "delivery runs on its own thread, below the API's priority"
    );

    // The receiver fails while the review goes on; the gateway is killed while it
    // retries.
    receiver.set(Mode::Status(503));
    let vars = json!({"participants": ["user:Administrator"], "comment": "please"});
    admin.complete_only_task(&wf, "start_review", vars).await;
    receiver
        .wait("a failed attempt", |h| h.iter().any(|h| h.answered == 503))
        .await;
    s.kill();

    receiver.set(Mode::Ok);
    // Restarted with delivery at another priority (`webhooks.niceness`).
    let env = [env[0], ("FLOWGATE__WEBHOOKS__NICENESS", "3")];
    let s = process::Server::start_with_env(&cfg, &log, &env);
    let admin = Api::new(&s.addr, "Administrator", "Administrator");
    receiver.wait_delivered(4).await;
    #[cfg(target_os = "linux")]
    assert_eq!(thread_nice(s.pid(), "webhooks"), Some(3));
    admin.complete_only_task(&wf, "validate", json!({})).await;
    let delivered = receiver.wait_delivered(6).await;
    s.kill();

    // Every event at least once; the two delivered before the kill not again (the
    // cursor was kept); in order.
    let mut firsts: Vec<Hit> = Vec::new();
    let mut count: HashMap<String, usize> = HashMap::new();
    for h in &delivered {
        let id = h.json()["data"]["id"].as_str().expect("id").to_owned();
        let n = count.entry(id).or_default();
        *n += 1;
        if *n == 1 {
            firsts.push(h.clone());
        }
        assert_signed(h);
    }
    assert_in_order(&firsts, &SERIAL);
    for h in &before {
        let id = h.json()["data"]["id"].as_str().expect("id").to_owned();
        assert_eq!(count[&id], 1, "{id} delivered again after the restart");
    }
    assert!(dir.path().join("data").join("webhooks.redb").is_file());
    let log = std::fs::read_to_string(&log).expect("log");
    assert!(
        !log.contains(SECRET.trim_start_matches("whsec_")),
        "the secret is never logged"
    );
    assert!(
        log.contains("webhook delivery state is kept in a file"),
        "{log}"
    );
}

#[tokio::test]
async fn a_graceful_stop_writes_what_was_delivered_so_a_restart_repeats_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start(Mode::Ok);
    let hooks = binary_hook("graceful", &receiver, "");
    let cfg = process::redb_config(dir.path(), &hooks);
    let log = dir.path().join("flowgate.log");
    let env = [("FLOWGATE_TEST_HOOK_SECRET", SECRET)];

    let s = process::Server::start_with_env(&cfg, &log, &env);
    let admin = Api::new(&s.addr, "Administrator", "Administrator");
    let wf = admin.start("doc-graceful").await;
    receiver.wait_delivered(2).await;
    drop(admin);
    // Stopped at once, before the outcomes of the two deliveries are due to be written
    // (a quarter of a second): the stop writes them.
    assert!(s.terminate(), "SIGTERM ends the gateway cleanly");

    let s = process::Server::start_with_env(&cfg, &log, &env);
    let admin = Api::new(&s.addr, "Administrator", "Administrator");
    let vars = json!({"participants": ["user:Administrator"], "comment": "please"});
    admin.complete_only_task(&wf, "start_review", vars).await;
    admin.complete_only_task(&wf, "validate", json!({})).await;
    receiver.wait_delivered(6).await;
    // A repeat would come first, at the restart; give it time to show anyway.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = receiver.delivered();
    assert!(s.terminate(), "SIGTERM ends the gateway cleanly");
    assert_once_in_order_signed(&hits, &SERIAL);
}

#[test]
fn plain_http_endpoints_stop_start_up_unless_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("hooks.toml");
    let check = |allow: bool| {
        let text = format!(
            "[[webhooks]]\nname = \"plain\"\nurl = \"http://127.0.0.1:9/in\"\nsecret = \"{SECRET}\"\n{}",
            if allow { "allow_plain_http = true\n" } else { "" }
        );
        std::fs::write(&cfg, text).expect("write");
        std::process::Command::new(process::BIN)
            .args(["check-config", "--config"])
            .arg(&cfg)
            .env_remove("FLOWGATE_CONFIG")
            .output()
            .expect("run check-config")
    };
    let out = check(false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("webhooks[0].url") && err.contains("allow_plain_http"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
    let out = check(true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The niceness of the thread named `name` of process `pid`, if there is one.
#[cfg(target_os = "linux")]
fn thread_nice(pid: u32, name: &str) -> Option<i64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
        // Fields after the command's closing parenthesis; niceness is field 19.
        let rest = stat.rsplit_once(") ")?.1;
        return rest.split_whitespace().nth(16)?.parse().ok();
    }
    None
}
