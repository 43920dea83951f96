//! Several real `flowgate` processes on one PostgreSQL database (`storage =
//! "postgres"`), each test on a schema of its own: a change acknowledged by one
//! replica is seen by the others at once, twenty concurrent completions of one task
//! spread over three replicas have exactly one winner, lasting tokens issued by one
//! replica sign in on another, events of every replica reach every replica's stream,
//! and a replica killed with SIGKILL under load loses nothing it acknowledged while
//! the others keep serving.

use std::time::Duration;

use flowgate_testkit::pg::TestSchema;
use serde_json::{json, Value};

mod process;
mod replica_support;
use replica_support::{
    client, open_tasks, send, start_review, start_review_body, write_config, Replica,
};

fn setup(n: usize, extra: &str) -> Option<(TestSchema, tempfile::TempDir, Vec<Replica>)> {
    let schema = TestSchema::new()?;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), &schema.name, extra);
    // Started together: the migrations run once, under the advisory lock.
    let url = schema.url.clone();
    let replicas: Vec<Replica> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (cfg, url) = (cfg.clone(), url.clone());
                let log = dir.path().join(format!("replica-{i}.log"));
                s.spawn(move || Replica::start(&cfg, &log, &url))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("replica starts"))
            .collect()
    });
    Some((schema, dir, replicas))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_replica_is_read_on_the_others() {
    let Some((_schema, _dir, r)) = setup(3, "") else {
        return;
    };
    let c = client();
    let wf = start_review(&c, &r[0].base(), "doc-replicas").await;
    let first = open_tasks(&c, &r[1].base(), &wf).await;
    assert_eq!(first.len(), 1, "{first:?}");
    let t1 = first[0]["id"].as_str().expect("task id").to_owned();
    let (status, body) = send(
        c.put(format!("{}/task/{t1}/start_review", r[2].base()))
            .json(&start_review_body(&t1)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Read at once on another replica: the next task is there, the first one ended.
    let next = open_tasks(&c, &r[1].base(), &wf).await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0]["actors"][0]["id"], "user:jdoe", "{next:?}");
    let (_, t) = send(c.get(format!("{}/task/{t1}", r[0].base()))).await;
    assert_eq!(t["state"], "ended", "{t}");
    // The document's workflows, by document, on the third replica.
    let (status, list) = send(c.get(format!("{}/id/doc-replicas/@workflow", r[2].base()))).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["entries"][0]["id"], wf.as_str(), "{list}");
    // The pool and query counters of the database are on /metrics.
    let root = r[0].base().replace("/nuxeo/api/v1", "");
    let metrics = c
        .get(format!("{root}/metrics"))
        .basic_auth("Administrator", Some("Administrator"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    for series in [
        "flowgate_db_connections{engine=\"local\"}",
        "flowgate_db_connections_in_use{engine=\"local\"}",
        "flowgate_db_waiting{engine=\"local\"}",
        "flowgate_db_operation_seconds_total{engine=\"local\"}",
    ] {
        assert!(metrics.contains(series), "{series} missing in:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_completions_over_three_replicas_have_one_winner() {
    let Some((_schema, _dir, r)) = setup(3, "") else {
        return;
    };
    let c = client();
    let wf = start_review(&c, &r[0].base(), "doc-race").await;
    let t1 = open_tasks(&c, &r[0].base(), &wf).await[0]["id"]
        .as_str()
        .expect("task id")
        .to_owned();
    let bases: Vec<String> = r.iter().map(Replica::base).collect();
    let calls = (0..20).map(|i| {
        let (c, url) = (
            c.clone(),
            format!("{}/task/{t1}/start_review", bases[i % 3]),
        );
        let body = start_review_body(&t1);
        async move { send(c.put(url).json(&body)).await }
    });
    let answers = futures::future::join_all(calls).await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    let odd: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s != 200 && *s != 409)
        .map(|(_, b)| b)
        .collect();
    assert!(odd.is_empty(), "{odd:?}");
    let won = statuses.iter().filter(|s| **s == 200).count();
    let lost = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((won, lost), (1, 19), "{statuses:?}");
    // The workflow moved on once: one reviewer task, one ended first task.
    let open = open_tasks(&c, &r[1].base(), &wf).await;
    assert_eq!(open.len(), 1, "{open:?}");
    let (_, events) = send(c.get(format!(
        "{}/id/doc-race/@audit?eventId=afterWorkflowTaskEnded",
        r[2].base()
    )))
    .await;
    assert_eq!(
        events["entries"].as_array().map(Vec::len),
        Some(1),
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_issued_by_one_replica_sign_in_on_another() {
    let Some((_schema, _dir, r)) = setup(2, "") else {
        return;
    };
    let c = client();
    let issue = format!(
        "{}/authentication/token?applicationName=app&deviceId=dev-1&permission=rw",
        r[0].base().trim_end_matches("/api/v1")
    );
    let token = c
        .get(&issue)
        .basic_auth("Administrator", Some("Administrator"))
        .send()
        .await
        .expect("issue")
        .text()
        .await
        .expect("token");
    assert!(!token.is_empty());
    let me = |base: String, token: String| {
        let c = c.clone();
        async move {
            c.get(format!("{base}/me"))
                .header("X-Authentication-Token", token)
                .send()
                .await
                .expect("me")
                .status()
                .as_u16()
        }
    };
    assert_eq!(me(r[1].base(), token.clone()).await, 200);
    let revoke = format!("{issue}&revoke=true");
    let status = c
        .get(&revoke)
        .basic_auth("Administrator", Some("Administrator"))
        .send()
        .await
        .expect("revoke")
        .status();
    assert!(status.is_success(), "{status}");
    assert_eq!(me(r[1].base(), token).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_loses_nothing_it_acknowledged() {
    let Some((_schema, _dir, mut r)) = setup(2, "") else {
        return;
    };
    let c = client();
    let (a, b) = (r[0].base(), r[1].base());
    // Starts through A until it dies; every 201 is an acknowledged workflow.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let load = {
        let (c, a, done) = (c.clone(), a.clone(), done.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..400 {
                let res = c
                    .post(format!("{a}/id/doc-kill-{i}/@workflow"))
                    .basic_auth("Administrator", Some("Administrator"))
                    .json(&json!({"entity-type": "workflow", "workflowModelName": "SerialDocumentReview"}))
                    .send()
                    .await;
                match res {
                    Ok(resp) if resp.status().as_u16() == 201 => {
                        let v: Value = resp.json().await.unwrap_or(Value::Null);
                        if let Some(id) = v["id"].as_str() {
                            acknowledged.push(id.to_owned());
                            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            acknowledged
        })
    };
    // Killed mid-load, once some starts were acknowledged (bounded wait).
    for _ in 0..300 {
        if done.load(std::sync::atomic::Ordering::Relaxed) >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    r[0].kill();
    let acknowledged = load.await.expect("load task");
    assert!(
        !acknowledged.is_empty(),
        "no start was acknowledged before the kill"
    );
    // B served throughout and has every acknowledged workflow, with its first task.
    for id in &acknowledged {
        let (status, wf) = send(c.get(format!("{b}/workflow/{id}"))).await;
        assert_eq!(status, 200, "{id}: {wf}");
        assert_eq!(open_tasks(&c, &b, id).await.len(), 1, "{id}");
    }
    let wf = start_review(&c, &b, "doc-after-kill").await;
    assert_eq!(open_tasks(&c, &b, &wf).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_streams_the_events_of_every_replica() {
    let Some((_schema, _dir, r)) = setup(2, "") else {
        return;
    };
    let c = client();
    let mut stream = c
        .get(format!("{}/events", r[1].base()))
        .basic_auth("Administrator", Some("Administrator"))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status().as_u16(), 200);
    let wf = start_review(&c, &r[0].base(), "doc-stream").await;
    // Bounded: the event must arrive on the other replica's stream within 15 s.
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("afterWorkflowStarted") && seen.contains(&wf) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
}

/// A webhook receiver on loopback recording the `webhook-id` of every request (204).
fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
    let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = ids.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len: usize = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            if let Some(id) = text[..end].lines().find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("webhook-id:")
                                    .map(|v| v.trim().to_owned())
                            }) {
                                if let Ok(mut s) = seen.lock() {
                                    s.push(id);
                                }
                            }
                            let _ = conn.write_all(
                                b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            );
                            return;
                        }
                    }
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (url, ids)
}

async fn wait_for_ids(ids: &std::sync::Mutex<Vec<String>>, n: usize) -> Vec<String> {
    for _ in 0..300 {
        let got = ids.lock().map(|v| v.clone()).unwrap_or_default();
        let distinct: std::collections::HashSet<&String> = got.iter().collect();
        if distinct.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "fewer than {n} deliveries: {:?}",
        ids.lock().map(|v| v.clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_at_a_time_delivers_webhooks_and_another_takes_over() {
    let (url, ids) = receiver();
    let extra = format!(
        "\n[[webhooks]]\nname = \"crm\"\nurl = \"{url}\"\nallow_plain_http = true\n\
         secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n"
    );
    let Some((_schema, _dir, mut r)) = setup(2, &extra) else {
        return;
    };
    let c = client();
    let wf = start_review(&c, &r[1].base(), "doc-hooks").await;
    // afterWorkflowStarted and afterWorkflowTaskCreated, each delivered once although
    // both replicas run a dispatcher.
    let got = wait_for_ids(&ids, 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_later = ids.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(got_later.len(), 2, "duplicates: {got:?} then {got_later:?}");
    // Replica 0 goes (SIGKILL); whichever was delivering, the events of the next step
    // reach the receiver.
    r[0].kill();
    let t1 = open_tasks(&c, &r[1].base(), &wf).await[0]["id"]
        .as_str()
        .expect("task id")
        .to_owned();
    let (status, body) = send(
        c.put(format!("{}/task/{t1}/start_review", r[1].base()))
            .json(&start_review_body(&t1)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Ended, created: two more distinct events at least.
    wait_for_ids(&ids, 4).await;
}
